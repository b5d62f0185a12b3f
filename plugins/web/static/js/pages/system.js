// System: feed health (a pill per market with its data age), plugins and their errors, recent alerts.

import { h, replace, table } from "../dom.js";
import { duration, ms, time } from "../format.js";
import { card, pill } from "../ui.js";

function feedLevel(f) {
  if (f.stale || f.state === "stale") return "bad";
  if (f.state && f.state !== "live") return "warn";
  return "ok";
}

export default {
  id: "system",
  title: "System",
  events: ["alerts", "feeds", "status"],
  mount(root, ctx) {
    const feeds = card("Feeds", { testid: "feeds" });
    const plugins = card("Plugins", { testid: "plugins" });
    const alerts = card("Recent alerts", { testid: "alerts" });
    replace(root, feeds.node, plugins.node, alerts.node);

    async function refresh() {
      const [f, p, a] = await Promise.all([ctx.api.get("feeds"), ctx.api.get("plugins"), ctx.api.get("alerts", { limit: 50 })]);
      const list = f.feeds || f;
      replace(feeds.slot, h("div", { class: "pills", "data-testid": "feed-pills" }, list.map((x) => pill(
        `${x.exchange} ${x.symbol} · ${x.stale ? "STALE" : x.state || "live"} · ${duration(x.age_s)}`, feedLevel(x),
        { "data-testid": `feed-${x.exchange}-${x.symbol}`, "data-level": feedLevel(x),
          title: [`resyncs ${x.resyncs ?? "—"}`, x.rtt_ms !== undefined && x.rtt_ms !== null ? `rtt ${ms(x.rtt_ms)}` : ""].filter(Boolean).join(", ") }))),
      table([
        { label: "Exchange", value: (x) => x.exchange },
        { label: "Market", value: (x) => x.symbol },
        { label: "State", value: (x) => pill(x.stale ? "stale" : x.state || "live", feedLevel(x)) },
        { label: "Data age", num: true, value: (x) => duration(x.age_s) },
        { label: "Resyncs", num: true, value: (x) => x.resyncs ?? "—" },
        { label: "Round trip", num: true, value: (x) => ms(x.rtt_ms) },
      ], list, { testid: "feeds-table", empty: "no market data yet" }));
      replace(plugins.slot, table([
        { label: "Plugin", value: (x) => x.name },
        { label: "Kinds", value: (x) => (x.kinds || []).join(", ") },
        { label: "Version", value: (x) => x.version },
        { label: "Errors", value: (x) => ((x.errors || []).length ? h("span", { class: "neg" }, x.errors.join("; ")) : pill("ok", "ok")) },
      ], p.plugins || p, { testid: "plugins-table" }));
      replace(alerts.slot, table([
        { label: "Time", value: (x) => time(x.ts_ns) },
        { label: "Level", value: (x) => pill(x.level, { critical: "bad", error: "bad", warning: "warn" }[x.level] || "") },
        { label: "Kind", value: (x) => x.kind },
        { label: "Message", value: (x) => x.message },
      ], a.alerts || a, { testid: "alerts-table", empty: "no alerts" }));
    }

    return { refresh };
  },
};
