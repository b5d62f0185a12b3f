// Overview: mode, uptime, today's PnL with its equity curve, strategies with pause/resume.

import { h, replace, table } from "../dom.js";
import { duration } from "../format.js";
import { money, moneys } from "../units.js";
import { lineChart } from "../charts.js";
import { card, kpi, moneyNodes, pill, verb } from "../ui.js";

function stateLevel(state) {
  if (state.startsWith("running")) return "ok";
  if (state.startsWith("failed")) return "bad";
  return "warn";
}

/** The fees as /pnl's fees column shows them (bot/report.py fees_text): in the quote assets, then each fee paid
 * in another asset (a DEX swap's SOL network fee), which is not in the net PnL. */
function feesText(fig) {
  const other = fig.other_fees || {};
  return moneys(fig.fees) + Object.keys(other).sort().map((a) => ` + ${money(other[a], a)}`).join("");
}

/** The ledger's curve ([ts_ns, "value"] after each fill that changed it) as chart points, drawn on to now. */
function points(curve) {
  const pts = curve.map(([ts, v]) => ({ t: ts / 1e6, v: Number(v) }));
  if (pts.length) pts.push({ t: Math.max(Date.now(), pts[pts.length - 1].t), v: pts[pts.length - 1].v });
  return pts;
}

export default {
  id: "overview",
  title: "Overview",
  events: ["status", "fills", "reset"],
  mount(root, ctx) {
    const notes = h("div");
    const kpis = h("div", { class: "kpis", "data-testid": "overview-kpis" });
    const curve = card("Net PnL today", { testid: "equity" });
    const strategies = card("Strategies", { testid: "strategies" });
    replace(root, notes, kpis, strategies.node, curve.node);

    async function refresh() {
      const [status, pnl] = await Promise.all([ctx.api.get("status"), ctx.api.get("pnl", { period: "day" })]);
      const net = pnl.total.net;
      replace(notes,
        status.mode !== status.configured_mode
          ? h("p", { class: "banner", "data-testid": "observe-banner" }, `Observe mode is on (configured: ${status.configured_mode}): no orders are sent.`) : null,
        status.store_error ? h("p", { class: "banner bad" }, `Store: ${status.store_error}`) : null);
      replace(kpis,
        h("div", { class: "kpi" }, h("div", { class: "label" }, "Mode"),
          h("div", { class: "value", "data-testid": "mode" }, status.mode), ctx.can("admin") ? observe(status) : null),
        kpi("Uptime", duration(status.uptime_s), { testid: "uptime" }),
        kpi("Net PnL today", moneyNodes(net), { testid: "pnl-today" }),
        kpi("Fees today", feesText(pnl.total), { testid: "fees-today" }),
        kpi("Fills today", String(pnl.total.fills), { testid: "fills-today" }),
        kpi("Open orders", String(status.open_orders), { testid: "open-orders" }));
      replace(curve.slot,
        Object.entries(pnl.curve).map(([asset, series]) => h("div", {}, h("div", { class: "muted" }, asset),
          lineChart(points(series), { label: `net PnL today in ${asset}`, width: Math.max(curve.slot.clientWidth, 300), height: 160 }))),
        h("p", { class: "muted" }, "The ledger's net realized PnL since the start of the day, after each fill."));
      replace(strategies.slot, table([
        { label: "Strategy", value: (s) => s.name },
        { label: "Type", value: (s) => s.type, narrow: false },
        { label: "State", value: (s) => pill(s.state, stateLevel(s.state), { "data-testid": `state-${s.name}` }) },
        { label: "Fills today", num: true, narrow: false, value: (s) => String(pnl.strategies[s.name]?.fills ?? 0) },
        { label: "Net today", num: true, value: (s) => moneyNodes(pnl.strategies[s.name]?.net ?? {}) },
        ctx.can("operator") ? { label: "", value: (s) => controls(s) } : null,
      ].filter(Boolean), status.strategies, { testid: "strategies-table" }));
    }

    /** Admin: observe mode on (no orders are sent), or back to the configured mode. */
    function observe(status) {
      const on = status.mode === "observe";
      if (on && status.configured_mode === "observe") return null; // the config itself says observe
      return verb(ctx, on ? `Back to ${status.configured_mode}` : "Observe only", "observe",
        { testid: on ? "observe-off" : "observe-on", cls: "secondary", body: { on: !on }, after: refresh });
    }

    function controls(s) {
      const paused = s.paused || s.failed || s.killed;
      return verb(ctx, paused ? "Resume" : "Pause", `strategies/${encodeURIComponent(s.name)}/${paused ? "resume" : "pause"}`,
        { testid: `${paused ? "resume" : "pause"}-${s.name}`, cls: paused ? null : "secondary", after: refresh });
    }

    return { refresh };
  },
};
