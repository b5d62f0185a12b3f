// Overview: mode, uptime, today's PnL with its equity curve, strategies with pause/resume.

import { h, replace, table } from "../dom.js";
import { duration, money, nsDate, sign } from "../format.js";
import { lineChart } from "../charts.js";
import { act, card, kpi, pill } from "../ui.js";

function stateLevel(state) {
  if (state.startsWith("running")) return "ok";
  if (state.startsWith("failed")) return "bad";
  return "warn";
}

export default {
  id: "overview",
  title: "Overview",
  events: ["status", "fills", "strategies", "portfolio"],
  mount(root, ctx) {
    const kpis = h("div", { class: "kpis", "data-testid": "overview-kpis" });
    const curve = card("Equity today (net realized PnL)", { testid: "equity" });
    const strategies = card("Strategies", { testid: "strategies" });
    const notes = h("div");
    replace(root, notes, kpis, h("div", { class: "grid" }, curve.node), strategies.node);

    async function refresh() {
      const [status, pnl, list] = await Promise.all([
        ctx.api.get("status"), ctx.api.get("pnl", { period: "day" }), ctx.api.get("strategies")]);
      const today = pnl.total || {};
      replace(notes,
        status.mode !== status.configured_mode
          ? h("p", { class: "banner" }, `Observe mode is on (configured: ${status.configured_mode}).`) : null,
        status.store_error ? h("p", { class: "banner bad" }, `Store: ${status.store_error}`) : null);
      replace(kpis,
        kpi("Mode", status.mode, { testid: "mode" }),
        kpi("Uptime", duration(status.uptime_s), { testid: "uptime" }),
        kpi("Net PnL today", money(today.net, pnl.quote), { cls: sign(today.net), testid: "pnl-today" }),
        kpi("Fills today", String(today.fills ?? 0), { testid: "fills-today" }),
        kpi("Open orders", String(status.open_orders ?? "—"), { testid: "open-orders" }));
      const points = (pnl.equity || []).map((p) => ({ t: nsDate(p.ts_ns).getTime(), v: Number(p.net) }));
      replace(curve.slot, lineChart(points, { label: "net realized PnL today" }));
      const rows = list.strategies || list;
      replace(strategies.slot, table([
        { label: "Strategy", value: (s) => s.name },
        { label: "Type", value: (s) => s.type },
        { label: "State", value: (s) => pill(s.state, stateLevel(s.state), { "data-testid": `state-${s.name}` }) },
        { label: "Net today", num: true, value: (s) => money(pnl.strategies?.[s.name]?.net), cls: (s) => sign(pnl.strategies?.[s.name]?.net) },
        { label: "", value: (s) => (ctx.can("operator") ? controls(s) : null) },
      ], rows, { testid: "strategies-table" }));
    }

    function controls(s) {
      const running = s.state.startsWith("running");
      const verb = running ? "pause" : "resume";
      const button = h("button", {
        class: running ? "secondary" : null, "data-testid": `${verb}-${s.name}`,
        onclick: () => act(button, () => ctx.api.post(`strategies/${encodeURIComponent(s.name)}/${verb}`), refresh),
      }, running ? "Pause" : "Resume");
      return button;
    }

    return { refresh };
  },
};
