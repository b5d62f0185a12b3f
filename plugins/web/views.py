"""Values as JSON: Decimals as strings (never floats), enums as their values, times in integer ns; CSV rows."""

from __future__ import annotations

import csv
import dataclasses
import enum
import io
import json
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from bot.api import ExecutionView, Fill, Opportunity, Order, split_symbol
from bot.api.ledger import prediction_error


def plain(value: Any) -> Any:
    """A JSON-ready copy: Decimal -> str, enum -> value, dataclass -> dict, tuples -> lists."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in (sorted(value) if isinstance(value, (set, frozenset)) else value)]
    return value


def dumps(value: Any) -> str:
    return json.dumps(plain(value), separators=(",", ":"))


def money_map(values: dict[str, Decimal]) -> dict[str, str]:
    return {asset: str(amount) for asset, amount in sorted(values.items())}


def order_view(order: Order) -> dict[str, Any]:
    """An order as JSON, with ``fee_asset``: the asset of its ``fee`` (its quote); ``other_fees`` holds those paid
    in any other asset, per asset."""
    data = plain(order)
    data["fee_asset"] = split_symbol(order.symbol)[1]
    return data


def fill_view(strategy: str, fill: Fill) -> dict[str, Any]:
    return {"strategy": strategy, **plain(fill)}


def opportunity_view(opportunity: Opportunity) -> dict[str, Any]:
    data = plain(opportunity)
    data["costs"] = [{"name": name, "amount": str(amount)} for name, amount in opportunity.costs]
    data["net_pnl"] = str(opportunity.net_profit())  # /opportunities' net profit, one given by the strategy or not
    return data


def execution_view(view: ExecutionView) -> dict[str, Any]:
    data = plain(view)
    data["legs"] = [{**plain(leg), "latency_ms": None if leg.latency_ms is None else str(leg.latency_ms)}
                    for leg in view.legs]
    result = view.result()
    # like with like, as every surface: a partial fill against its prediction for what filled, exactly
    data["error"] = None if result is None else str(prediction_error(result))
    return data


# --- CSV ------------------------------------------------------------------------------------------

ORDER_COLUMNS = ("client_order_id", "strategy", "exchange", "symbol", "side", "order_type", "tif", "post_only",
                 "qty", "price", "status", "filled_qty", "avg_fill_price", "fee", "fee_asset", "other_fees",
                 "exchange_order_id", "reason", "created_ns", "updated_ns", "closes")
FILL_COLUMNS = ("strategy", "exchange", "symbol", "trade_id", "client_order_id", "side", "price", "qty", "fee",
                "fee_asset", "liquidity", "ts_ns")
EXECUTION_COLUMNS = ("strategy", "opportunity_id", "symbol", "state", "created_ns", "finished_ns", "size",
                     "filled", "predicted_pnl", "realized_pnl", "error", "quote", "residual", "legs", "note")


def csv_text(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    """RFC 4180 CSV with a header row; empty cells for None; legs (a list) as compact JSON."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        cells = []
        for name in columns:
            value = row.get(name)
            if value is None:
                cells.append("")
            elif isinstance(value, (list, dict)):
                cells.append(json.dumps(value, separators=(",", ":")))
            else:
                cells.append(str(value))
        writer.writerow(cells)
    return out.getvalue()
