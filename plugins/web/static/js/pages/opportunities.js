// Opportunities: the live table with filters; a row opens its cost breakdown.

import { h, replace, table, facts } from "../dom.js";
import { clock, sign, time } from "../format.js";
import { amount, or, price, qty, quoteOf, significant } from "../units.js";
import { card, dialog, pill } from "../ui.js";

const filters = { strategy: "", acted: "", min_bps: "" }; // kept across refreshes and visits

function matches(o) {
  if (filters.strategy && o.strategy !== filters.strategy) return false;
  if (filters.acted === "yes" && !o.acted) return false;
  if (filters.acted === "no" && o.acted) return false;
  if (filters.min_bps !== "" && !(Number(o.edge_bps) >= Number(filters.min_bps))) return false;
  return true;
}

/** The cost breakdown of one opportunity, from gross edge to net PnL. */
export function breakdown(o) {
  const costs = o.costs || [];
  const quote = quoteOf(o.symbol);
  const rows = costs.map((c) => h("tr", {}, h("td", {}, c.name), h("td", { class: "num neg" }, `−${amount(c.amount, quote)}`)));
  return h("div", { "data-testid": "cost-breakdown" },
    facts([
      ["when", time(o.ts_ns)],
      ["strategy", o.strategy],
      ["market", o.symbol],
      ["buy", `${qty(o.qty)} on ${o.buy_exchange} at ${price(o.buy_price)}`],
      ["sell", `on ${o.sell_exchange} at ${price(o.sell_price)}`],
      ["acted", o.acted ? "yes" : `no${o.reason ? `: ${o.reason}` : ""}`],
    ]),
    h("h2", { class: "muted" }, `Costs (${quote || "quote"})`),
    costs.length
      ? h("div", { class: "table-wrap" }, h("table", {}, h("tbody", {}, rows,
        h("tr", {}, h("th", {}, "net PnL"), h("th", { class: `num ${sign(o.net_pnl)}` }, or(amount, o.net_pnl, quote))),
        h("tr", {}, h("th", {}, "net edge"), h("th", { class: "num" }, `${significant(o.edge_bps, 4)} bps`)))))
      : h("p", { class: "empty" }, "no cost breakdown was published for this opportunity"));
}

export default {
  id: "opportunities",
  title: "Opportunities",
  events: ["opportunities", "reset"],
  mount(root, ctx) {
    const strategy = h("select", { "data-testid": "filter-strategy", onchange: () => { filters.strategy = strategy.value; refresh(); } },
      h("option", { value: "" }, "all"));
    const acted = h("select", { "data-testid": "filter-acted", onchange: () => { filters.acted = acted.value; refresh(); } },
      h("option", { value: "" }, "all"), h("option", { value: "yes" }, "acted"), h("option", { value: "no" }, "not acted"));
    acted.value = filters.acted;
    const minBps = h("input", { type: "number", step: "any", inputmode: "decimal", placeholder: "any", size: 6,
      "data-testid": "filter-min-bps", value: filters.min_bps,
      oninput: () => { filters.min_bps = minBps.value; refresh(); } });
    const list = card("Latest opportunities", { testid: "opportunities" });
    replace(root, h("div", { class: "card toolbar" },
      h("label", {}, "strategy", strategy), h("label", {}, "acted", acted), h("label", {}, "net bps ≥", minBps)), list.node);
    let latest = [];

    function open(o) {
      dialog(`Opportunity ${o.opportunity_id || ""}`.trim(), breakdown(o), undefined, { testid: "opportunity-dialog" });
    }

    function draw() {
      const rows = latest.filter(matches);
      replace(list.slot, table([
        { label: "Time", value: (o) => clock(o.ts_ns) },
        { label: "Strategy", value: (o) => o.strategy, narrow: false },
        { label: "Market", value: (o) => o.symbol, narrow: false },
        { label: "Buy → sell", value: (o) => `${o.buy_exchange} → ${o.sell_exchange}` },
        { label: "Qty", num: true, value: (o) => qty(o.qty) },
        { label: "Net bps", num: true, value: (o) => significant(o.edge_bps, 4), cls: (o) => sign(o.edge_bps) },
        { label: "Net PnL", num: true, value: (o) => or(amount, o.net_pnl, quoteOf(o.symbol)), cls: (o) => sign(o.net_pnl) },
        { label: "Acted", value: (o) => (o.acted ? pill("acted", "ok") : h("span", { class: "muted" }, o.reason || "no")), wrap: true },
      ], rows, { onRow: open, testid: "opportunities-table", empty: "no opportunities match" }));
    }

    async function refresh() {
      const data = await ctx.api.get("opportunities", { limit: 200 });
      latest = data.items;
      const names = [...new Set(latest.map((o) => o.strategy))].sort();
      const have = [...strategy.options].map((o) => o.value);
      for (const n of names) if (!have.includes(n)) strategy.append(h("option", { value: n }, n));
      strategy.value = filters.strategy;
      draw();
    }

    return { refresh };
  },
};
