// System: feed health (a pill per market with its data age), plugins and their errors, recent alerts.

import { h, replace, table } from "../dom.js";
import { duration, time } from "../format.js";
import { card, pill } from "../ui.js";

/** Data older than this shows as "silent" even while the venue still calls its feed live. */
const SILENT_AFTER_MS = 5000;

function feedStatus(f) {
  if (f.state !== "live") return { level: "bad", word: f.state };
  if (f.age_ms === null) return { level: "warn", word: "no data yet" };
  if (f.age_ms > SILENT_AFTER_MS) return { level: "warn", word: "silent" };
  return { level: "ok", word: "live" };
}

const age = (f) => (f.age_ms === null ? "—" : duration(f.age_ms / 1000));

export default {
  id: "system",
  title: "System",
  events: ["alerts", "feeds", "status", "reset"],
  mount(root, ctx) {
    const feeds = card("Feeds", { testid: "feeds" });
    const plugins = card("Plugins", { testid: "plugins" });
    const alerts = card("Recent alerts", { testid: "alerts" });
    replace(root, feeds.node, plugins.node, alerts.node);

    async function refresh() {
      const [f, p, a] = await Promise.all([ctx.api.get("feeds"), ctx.api.get("plugins"), ctx.api.get("alerts", { limit: 30 })]);
      replace(feeds.slot,
        h("div", { class: "pills", "data-testid": "feed-pills" }, f.items.map((x) => {
          const s = feedStatus(x);
          return pill(`${x.exchange} ${x.symbol} · ${s.word} · ${age(x)}`, s.level,
            { "data-testid": `feed-${x.exchange}-${x.symbol}`, "data-state": s.word, title: x.reason || s.word });
        })),
        table([
          { label: "Exchange", value: (x) => x.exchange },
          { label: "Market", value: (x) => x.symbol },
          { label: "State", value: (x) => pill(feedStatus(x).word, feedStatus(x).level) },
          { label: "Data age", num: true, value: age },
          { label: "Resyncs", num: true, value: (x) => String(x.resyncs) },
          { label: "Since", value: (x) => (x.changed_ns ? time(x.changed_ns) : "—") },
          { label: "Reason", value: (x) => x.reason || "", wrap: true },
        ], f.items, { testid: "feeds-table", empty: "no market data yet" }));
      replace(plugins.slot, table([
        { label: "Plugin", value: (x) => x.name },
        { label: "Provides", value: (x) => (x.provides || []).join(", "), wrap: true },
        { label: "Version", value: (x) => x.version },
        { label: "Errors", value: (x) => (x.errors.length ? h("span", { class: "neg" }, x.errors.join("; ")) : pill("ok", "ok")), wrap: true },
      ], p.items, { testid: "plugins-table" }));
      replace(alerts.slot, table([
        { label: "Time", value: (x) => time(x.ts_ns) },
        { label: "Level", value: (x) => pill(x.level, { critical: "bad", error: "bad", warning: "warn" }[x.level] || "") },
        { label: "Kind", value: (x) => x.kind },
        { label: "Source", value: (x) => x.source },
        { label: "Message", value: (x) => x.message, wrap: true },
      ], a.items, { testid: "alerts-table", empty: "no alerts since the bot started" }));
    }

    return { refresh };
  },
};
