// Orders & fills: paged tables, and CSV export of a date range.

import { h, replace, table } from "../dom.js";
import { dateInput, time } from "../format.js";
import { amount, or, orderFees, price, qty } from "../units.js";
import { card, pill } from "../ui.js";

const view = { kind: "orders", offset: 0, size: 50 };

const COLUMNS = {
  orders: [
    { label: "Time", value: (o) => time(o.created_ns) },
    { label: "Strategy", value: (o) => o.strategy },
    { label: "Exchange", value: (o) => o.exchange },
    { label: "Market", value: (o) => o.symbol },
    { label: "Side", value: (o) => o.side },
    { label: "Type", value: (o) => o.order_type, narrow: false },
    { label: "Qty", num: true, value: (o) => qty(o.qty) },
    { label: "Price", num: true, value: (o) => (o.price === null ? "market" : price(o.price)) },
    { label: "Filled", num: true, value: (o) => qty(o.filled_qty) },
    { label: "Avg price", num: true, value: (o) => or(price, o.avg_fill_price) },
    { label: "Fee", num: true, value: (o) => orderFees(o) },
    { label: "Status", value: (o) => pill(o.status, o.status === "filled" ? "ok" : ["rejected", "failed"].includes(o.status) ? "bad" : "") },
    { label: "Client id", value: (o) => h("span", { class: "mono muted" }, o.client_order_id), narrow: false },
  ],
  fills: [
    { label: "Time", value: (f) => time(f.ts_ns) },
    { label: "Strategy", value: (f) => f.strategy },
    { label: "Exchange", value: (f) => f.exchange },
    { label: "Market", value: (f) => f.symbol },
    { label: "Side", value: (f) => f.side },
    { label: "Qty", num: true, value: (f) => qty(f.qty) },
    { label: "Price", num: true, value: (f) => price(f.price) },
    { label: "Fee", num: true, value: (f) => `${amount(f.fee, f.fee_asset)} ${f.fee_asset}` },
    { label: "Liquidity", value: (f) => f.liquidity, narrow: false },
    { label: "Order", value: (f) => h("span", { class: "mono muted" }, f.client_order_id), narrow: false },
  ],
};

export default {
  id: "orders",
  title: "Orders & fills",
  events: ["orders", "fills", "reset"],
  mount(root, ctx) {
    const today = new Date();
    const kind = h("select", { "data-testid": "kind", onchange: () => { view.kind = kind.value; view.offset = 0; refresh(); } },
      h("option", { value: "orders" }, "orders"), h("option", { value: "fills" }, "fills"));
    kind.value = view.kind;
    const from = h("input", { type: "date", "data-testid": "csv-from", value: dateInput(new Date(today.getTime() - 7 * 864e5)) });
    const to = h("input", { type: "date", "data-testid": "csv-to", value: dateInput(today) });
    const exportLink = h("a", { class: "button secondary", "data-testid": "csv-export", download: "" }, "Export CSV");
    const syncLink = () => {
      const range = ctx.api.dateRange(from.value, to.value);
      exportLink.href = ctx.api.csvUrl(view.kind, range);
      exportLink.setAttribute("download", `arbot-${view.kind}-${from.value}-${to.value}.csv`);
    };
    for (const input of [kind, from, to]) input.addEventListener("change", syncLink);
    const size = h("select", { "data-testid": "page-size", onchange: () => { view.size = Number(size.value); view.offset = 0; refresh(); } },
      [10, 25, 50, 100].map((n) => h("option", { value: n }, String(n))));
    size.value = String(view.size);
    const prev = h("button", { class: "secondary", "data-testid": "prev", onclick: () => { view.offset = Math.max(0, view.offset - view.size); refresh(); } }, "← Newer");
    const next = h("button", { class: "secondary", "data-testid": "next", onclick: () => { view.offset += view.size; refresh(); } }, "Older →");
    const where = h("span", { class: "muted", "data-testid": "page-info" });
    const list = card("", { testid: "orders-fills" });
    replace(root,
      h("div", { class: "card toolbar" },
        h("label", {}, "show", kind), h("label", {}, "per page", size), h("label", {}, "from", from), h("label", {}, "to", to), exportLink),
      list.node,
      h("div", { class: "toolbar" }, prev, where, next));

    async function refresh() {
      syncLink();
      const data = await ctx.api.get(view.kind, { limit: view.size, offset: view.offset });
      const rows = data.items;
      list.node.querySelector("h2").textContent = view.kind === "orders" ? "Orders" : "Fills";
      replace(list.slot, table(COLUMNS[view.kind], rows, { testid: `${view.kind}-table`, empty: `no ${view.kind}` }));
      where.textContent = rows.length ? `${view.offset + 1}–${view.offset + rows.length}` : "";
      prev.disabled = view.offset === 0;
      next.disabled = data.next_offset === null;
    }

    return { refresh };
  },
};
