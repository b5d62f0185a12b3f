// Inventory: balances per venue, with the low-inventory warnings the strategies raise.

import { h, replace, table } from "../dom.js";
import { card } from "../ui.js";

export default {
  id: "inventory",
  title: "Inventory",
  events: ["portfolio", "fills"],
  mount(root, ctx) {
    const warnings = h("div", { "data-testid": "inventory-warnings" });
    const venues = h("div", { class: "grid", "data-testid": "balances" });
    replace(root, warnings, venues);

    async function refresh() {
      const data = await ctx.api.get("balances");
      const low = data.low || [];
      const isLow = (exchange, asset) => low.some((w) => w.exchange === exchange && w.asset === asset);
      replace(warnings, low.map((w) => h("p", { class: "banner", "data-testid": "low-inventory" },
        `Low: ${w.exchange} ${w.asset}${w.message ? ` — ${w.message}` : ""}`)));
      const exchanges = data.balances || data;
      replace(venues, Object.keys(exchanges).sort().map((exchange) => {
        const c = card(exchange, { testid: `venue-${exchange}` });
        const rows = Object.entries(exchanges[exchange]).map(([asset, b]) => ({ asset, ...b }));
        replace(c.slot, table([
          { label: "Asset", value: (r) => r.asset },
          { label: "Free", num: true, value: (r) => r.free },
          { label: "Total", num: true, value: (r) => r.total },
        ], rows, { rowClass: (r) => (isLow(exchange, r.asset) ? "warn" : ""), empty: "no balances" }));
        return c.node;
      }));
    }

    return { refresh };
  },
};
