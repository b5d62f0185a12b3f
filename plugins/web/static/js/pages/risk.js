// Risk: every check with its limits and their use, recent trips, and the kill switch (admin,
// confirmed by the same user within the server's confirmation time).

import { h, replace, table, facts, toast } from "../dom.js";
import { time } from "../format.js";
import { act, card, dialog } from "../ui.js";
import { amount, counted } from "../units.js";

/** One limit: used of limit, with a bar (the ratio is for drawing only). */
function use(name, u) {
  const ratio = Number(u.limit) > 0 ? Math.min(Math.abs(Number(u.used)) / Number(u.limit), 1) : 0;
  const level = ratio >= 0.9 ? "bad" : ratio >= 0.7 ? "warn" : "ok";
  return h("div", { class: "use" },
    h("div", { class: "use-label" }, h("span", {}, name), h("span", { class: "num" }, `${amount(u.used, u.unit)} / ${amount(u.limit, u.unit)} ${u.unit}`)),
    bar(ratio, level));
}

function bar(ratio, level) {
  const fill = h("span");
  fill.style.width = `${(ratio * 100).toFixed(1)}%`; // CSSOM, not a style attribute: fine under a strict CSP
  return h("div", { class: `bar ${level}` }, fill);
}

export default {
  id: "risk",
  title: "Risk",
  events: ["status", "alerts", "reset"],
  mount(root, ctx) {
    const checks = h("div", { class: "grid", "data-testid": "risk-checks" });
    const trips = card("Recent trips", { testid: "risk-trips" });
    const kill = ctx.can("admin") ? card("Kill switch", { testid: "kill-card" }) : null;
    if (kill) {
      const reason = h("input", { placeholder: "reason (optional)", "data-testid": "kill-reason" });
      const button = h("button", { class: "danger", "data-testid": "kill", onclick: () => killFlow(button, reason.value) }, "Kill…");
      replace(kill.slot, h("p", { class: "muted" },
        "Pauses every strategy and cancels every resting order. Strategies stay paused until resumed."),
        h("div", { class: "toolbar" }, reason, button));
    }
    replace(root, checks, trips.node, kill ? kill.node : null);

    async function killFlow(button, reason) {
      const first = await act(button, () => ctx.api.post("kill", { reason }));
      if (!first) return;
      const token = first.confirm_token;
      const ok = await dialog("Kill everything?", h("p", {}, first.question || "Pause every strategy and cancel every resting order."),
        [{ label: "Cancel", value: false, cls: "secondary" }, { label: "Kill", value: true, cls: "danger" }],
        { testid: "kill-dialog" });
      if (!ok) return;
      const done = await act(button, () => ctx.api.post("kill", { reason, confirm_token: token }));
      if (done) toast(`Killed: ${counted(done.paused, "strategy")} paused.`);  // the API answers how many it paused
      await refresh();
    }

    async function refresh() {
      const data = await ctx.api.get("risk");
      replace(checks, (data.checks || []).map((c) => {
        const k = card(c.name, { testid: `risk-${c.name}` });
        const usage = Object.entries(c.usage || {});
        replace(k.slot, usage.length ? h("div", { class: "uses" }, usage.map(([name, u]) => use(name, u))) : null,
          facts(Object.entries(c.facts || {})));
        return k.node;
      }));
      replace(trips.slot, table([
        { label: "Time", value: (t) => time(t.ts_ns) },
        { label: "Check", value: (t) => t.check },
        { label: "Action", value: (t) => t.action },
        { label: "Strategy", value: (t) => t.strategy },
        { label: "Market", value: (t) => [t.exchange, t.symbol].filter(Boolean).join(" ") },
        { label: "Reason", value: (t) => t.reason, wrap: true },
      ], data.trips || [], { testid: "trips-table", empty: "no trips" }));
    }

    return { refresh };
  },
};
