// Fleet: every bot of the fleet with its health (alive, last heard, mode, strategies, open orders,
// PnL today) and, for a user whose role allows it, pause/resume per strategy and the kill switch per
// bot or for all. Every action goes through the command layer (/pause bot:strategy, /kill all), so
// each bot checks the role and audits it as it does for chat; resume and kill ask once to confirm.

import { h, replace, table, toast } from "../dom.js";
import { duration } from "../format.js";
import { card, moneyNodes, pill, twoStep } from "../ui.js";

function heard(member, nowNs) {
  if (!member.seen_ns) return "never";
  return `${duration(Math.max(0, (Number(BigInt(nowNs) - BigInt(member.seen_ns)) / 1e9)))} ago`;
}

/** What each bot answered, one line each ("vps-1: ok"), as a toast. */
function answers(result) {
  const parts = Object.entries(result.bots || {}).map(([bot, part]) => `${bot}: ${part.answer}`);
  toast(`${result.title}${parts.length ? ` (${parts.join(", ")})` : ""}`, 6000);
}

export default {
  id: "fleet",
  title: "Fleet",
  events: ["status", "alerts", "reset"],
  mount(root, ctx) {
    const summary = card("Bots", { testid: "fleet-table" });
    const killAll = ctx.can("admin")
      ? h("button", { class: "danger", type: "button", "data-testid": "fleet-kill-all",
        onclick: () => fleetCall(killAll, "fleet/kill", { bot: "all" }, "Kill every bot?") }, "Kill all…")
      : null;
    const cards = h("div", { class: "grid", "data-testid": "fleet-bots" });
    replace(root, h("div", { class: "toolbar" }, h("h2", {}, "Fleet"), killAll), summary.node, cards);

    /** POST ``path``, confirmed once in a dialog when the server asks; then each bot's answer. */
    async function fleetCall(button, path, body, title) {
      const result = await twoStep(button, ctx, path, body, { title, testid: "fleet-confirm" });
      if (!result) return;
      answers(result);
      await refresh();
    }

    function strategyRows(member) {
      const strategies = Object.entries(member.status?.strategies || {});
      const bot = member.name;
      const controls = (name, state) => {
        if (!ctx.can("operator") || !member.alive) return null;
        const paused = String(state).startsWith("paused");
        const verb = paused ? "resume" : "pause";
        const button = h("button", { class: paused ? null : "secondary", type: "button",
          "data-testid": `fleet-${verb}-${bot}-${name}`,
          onclick: () => fleetCall(button, `fleet/${encodeURIComponent(bot)}/strategies/${encodeURIComponent(name)}/${verb}`,
            {}, `Resume ${name} on ${bot}?`) }, paused ? "Resume" : "Pause");
        return button;
      };
      return table([
        { label: "Strategy", value: ([name]) => name },
        { label: "State", value: ([, s]) => pill(s.state, String(s.state).startsWith("running") ? "ok" : "warn") },
        { label: "", value: ([name, s]) => controls(name, s.state) },
      ], strategies, { testid: `fleet-strategies-${bot}`, empty: "no strategies" });
    }

    async function refresh() {
      const data = await ctx.api.get("fleet");
      const members = data.members || [];
      replace(summary.slot, table([
        { label: "Bot", value: (m) => (m.self ? `${m.name} (this)` : m.name) },
        { label: "Alive", value: (m) => pill(m.alive ? "alive" : "silent", m.alive ? "ok" : "bad",
          { "data-testid": `fleet-alive-${m.name}` }) },
        { label: "Heard", value: (m) => heard(m, data.now_ns), narrow: false },
        { label: "Mode", value: (m) => m.status?.mode ?? "—" },
        { label: "Strategies", num: true, value: (m) => {
          const all = Object.values(m.status?.strategies || {});
          return `${all.filter((s) => String(s.state).startsWith("running")).length}/${all.length}`;
        } },
        { label: "Orders", num: true, value: (m) => String(m.status?.open_orders ?? "—") },
        // the bot's net: its strategies' less what moving funds cost (a bot too old to send it: its strategies')
        { label: "PnL today", num: true, value: (m) => h("span", {}, moneyNodes(
          m.status?.pnl_today?.net_after_transfer_costs ?? m.status?.pnl_today?.net)) },
      ], members, { testid: "fleet-summary", rowClass: (m) => (m.alive ? "" : "muted") }));
      replace(cards, members.map((m) => {
        const kill = ctx.can("admin") && m.alive
          ? h("button", { class: "danger", type: "button", "data-testid": `fleet-kill-${m.name}`,
            onclick: () => fleetCall(kill, "fleet/kill", { bot: m.name }, `Kill ${m.name}?`) }, "Kill…")
          : null;
        const c = card(m.name, { testid: `fleet-bot-${m.name}`, actions: kill });
        replace(c.slot, strategyRows(m));
        return c.node;
      }));
    }

    return { refresh };
  },
};
