// Executions: predicted vs realized PnL per execution, its legs and their latencies, the residual
// and the hedge; a scatter of predicted against realized.

import { h, replace, table, facts } from "../dom.js";
import { clock, ms, sign, time } from "../format.js";
import { amount, or, price, qty } from "../units.js";
import { scatter } from "../charts.js";
import { card, dialog, pill } from "../ui.js";

function leg(e, role) {
  return (e.legs || []).find((l) => l.role === role) || null;
}

function legText(l) {
  if (!l) return "—";
  return `${l.side} ${qty(l.filled)}/${qty(l.qty)} @ ${or(price, l.avg_price)} (${l.status || "…"})`;
}

function detail(e) {
  return h("div", { "data-testid": "execution-detail" },
    facts([
      ["opportunity", e.opportunity_id], ["decided", time(e.created_ns)], ["state", e.state], ["market", e.symbol],
      ["size", qty(e.size)], ["predicted", or(amount, e.predicted_pnl, e.quote)], ["realized", or(amount, e.realized_pnl, e.quote)],
      ["error", or(amount, e.error, e.quote)], ["residual", qty(e.residual)], ["quote", e.quote], ["note", e.note || "—"],
    ]),
    table([
      { label: "Leg", value: (l) => l.role },
      { label: "Exchange", value: (l) => l.exchange },
      { label: "Side", value: (l) => l.side },
      { label: "Filled / qty", num: true, value: (l) => `${qty(l.filled)} / ${qty(l.qty)}` },
      { label: "Avg price", num: true, value: (l) => or(price, l.avg_price) },
      { label: "Limit", num: true, value: (l) => price(l.price) },
      { label: "Status", value: (l) => l.status },
      { label: "Latency", num: true, value: (l) => ms(l.latency_ms) },
    ], e.legs || [], { empty: "no legs" }));
}

export default {
  id: "executions",
  title: "Executions",
  events: ["executions", "fills", "reset"],
  mount(root, ctx) {
    const plot = card("Predicted vs realized PnL", { testid: "execution-scatter" });
    const csv = h("a", { class: "button secondary", "data-testid": "executions-csv", download: "arbot-executions.csv",
      href: ctx.api.csvUrl("arb/executions") }, "Export CSV");
    const list = card("Latest executions", { testid: "executions", actions: csv });
    replace(root, h("div", { class: "grid" }, plot.node), list.node);

    async function refresh() {
      const data = await ctx.api.get("arb/executions", { limit: 200 });
      const rows = data.items;
      const done = rows.filter((e) => e.realized_pnl !== null && e.realized_pnl !== undefined);
      replace(plot.slot, scatter(done.map((e) => ({ x: Number(e.predicted_pnl), y: Number(e.realized_pnl) })),
        { label: "predicted vs realized PnL per execution", size: Math.min(Math.max(plot.slot.clientWidth, 260), 420) }));
      replace(list.slot, table([
        { label: "Time", value: (e) => clock(e.created_ns) },
        { label: "Strategy", value: (e) => e.strategy, narrow: false },
        { label: "Market", value: (e) => e.symbol, narrow: false },
        { label: "Size", num: true, value: (e) => qty(e.size) },
        { label: "Predicted", num: true, value: (e) => or(amount, e.predicted_pnl, e.quote), cls: (e) => sign(e.predicted_pnl) },
        { label: "Realized", num: true, value: (e) => or(amount, e.realized_pnl, e.quote), cls: (e) => sign(e.realized_pnl) },
        { label: "CEX leg", value: (e) => legText(leg(e, "cex")), narrow: false },
        { label: "CEX", num: true, value: (e) => ms(leg(e, "cex")?.latency_ms) },
        { label: "DEX leg", value: (e) => legText(leg(e, "dex")), narrow: false },
        { label: "DEX", num: true, value: (e) => ms(leg(e, "dex")?.latency_ms) },
        { label: "Residual", num: true, value: (e) => qty(e.residual) },
        { label: "Hedge", value: (e) => (leg(e, "hedge") ? legText(leg(e, "hedge")) : ""), narrow: false },
        { label: "State", value: (e) => pill(e.state, e.state === "done" ? "ok" : "warn") },
      ], rows, { onRow: (e) => dialog("Execution", detail(e)), testid: "executions-table", empty: "no executions yet" }));
    }

    return { refresh };
  },
};
