// Inventory: balances per venue as each reports them now, and the low-inventory warnings the
// strategies raised (the arbitrage alerts when a venue lacks an asset to trade min_size).

import { h, replace, table } from "../dom.js";
import { clock } from "../format.js";
import { card } from "../ui.js";
import { amount } from "../units.js";

/** An alert naming a venue and an asset it lacks (the arb strategy's shortfall warning). */
const isShortfall = (a) => a.level === "warning" && a.fields && a.fields.venue && a.fields.asset && a.fields.need;

export default {
  id: "inventory",
  title: "Inventory",
  events: ["fills", "alerts", "reset"],
  mount(root, ctx) {
    const warnings = h("div", { "data-testid": "inventory-warnings" });
    const venues = h("div", { class: "grid", "data-testid": "balances" });
    replace(root, warnings, venues);

    async function refresh() {
      const [data, alerts] = await Promise.all([ctx.api.get("balances"), ctx.api.get("alerts", { limit: 200 })]);
      const low = alerts.items.filter(isShortfall);
      const lowAt = (exchange, asset) => low.some((a) => a.fields.venue === exchange && a.fields.asset === asset);
      replace(warnings, low.length ? h("div", { class: "banner", "data-testid": "low-inventory" },
        h("strong", {}, "Low-inventory warnings (recent alerts)"), low.map((a) => h("div", {}, `${clock(a.ts_ns)} ${a.source}: ${a.message}`))) : null);
      replace(venues, Object.keys(data.balances).sort().map((exchange) => {
        const c = card(exchange, { testid: `venue-${exchange}` });
        const assets = data.balances[exchange];
        if (assets.error) {
          replace(c.slot, h("p", { class: "neg" }, `could not read balances: ${assets.error}`));
          return c.node;
        }
        const rows = Object.entries(assets).map(([asset, b]) => ({ asset, ...b }));
        replace(c.slot, table([
          { label: "Asset", value: (r) => r.asset },
          { label: "Free", num: true, value: (r) => amount(r.free, r.asset) },
          { label: "Total", num: true, value: (r) => amount(r.total, r.asset) },
        ], rows, { rowClass: (r) => (lowAt(exchange, r.asset) ? "warn" : ""), empty: "no balances" }));
        return c.node;
      }));
    }

    return { refresh };
  },
};
