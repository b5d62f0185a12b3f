// Backtests: the reports found in data_dir, each with its summary and PnL chart (PNG).

import { h, replace, table, facts } from "../dom.js";
import { time } from "../format.js";
import { card, dialog } from "../ui.js";

export default {
  id: "backtests",
  title: "Backtests",
  events: [],
  mount(root, ctx) {
    const list = card("Backtest reports", { testid: "backtests" });
    replace(root, list.node);

    function open(r) {
      dialog(r.name, h("div", { "data-testid": "backtest-detail" },
        facts(Object.entries(r.summary || {})),
        r.png_url ? h("img", { class: "report", src: r.png_url, alt: `PnL chart of ${r.name}` }) : null));
    }

    async function refresh() {
      const data = await ctx.api.get("backtests");
      replace(list.slot, table([
        { label: "Report", value: (r) => r.name },
        { label: "Written", value: (r) => time(r.modified_ns) },
        { label: "Chart", value: (r) => (r.png_url ? "PNG" : "—") },
      ], data.reports || data, { onRow: open, testid: "backtests-table", empty: "no backtest reports in data_dir" }));
    }

    return { refresh };
  },
};
