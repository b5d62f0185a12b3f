"""One wording of a duration (``bot.report.age_text``), public through ``bot.api.ledger``: ``/status``, ``arbot
report``, ``/rebalance`` and ``arbot fleet transfers`` say an age or an expected time the same way."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_public_ledger_facade_exports_the_hosts_duration_wording():
    from bot.api.ledger import age_text
    from bot.report import age_text as hosts

    assert age_text is hosts
    seconds = (0.04, 59.94, 119.9, 120, 900, 7199, 7200, 90_000)
    assert [age_text(int(s * 1_000_000_000)) for s in seconds] == [
        "0.0s", "59.9s", "119.9s", "2m", "15m", "120m", "2.0h", "25.0h"]


def test_no_plugin_keeps_a_copy_of_it():
    copies = []
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name in ("age_text", "duration_text"):
                copies.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert copies == [], "use bot.api.ledger.age_text"
