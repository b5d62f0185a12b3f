// Backtests: the reports `arbot backtest --out DIR` left in data_dir, each with its PnL chart (PNG)
// and its text report.

import { h, replace, table, toast } from "../dom.js";
import { time } from "../format.js";
import { card } from "../ui.js";

export default {
  id: "backtests",
  title: "Backtests",
  events: [],
  mount(root, ctx) {
    const list = card("Backtest reports in data_dir", { testid: "backtests" });
    const detail = card("Report", { testid: "backtest-detail" });
    detail.node.hidden = true;
    replace(root, list.node, detail.node);

    async function open(r) {
      let report;
      try {
        report = await ctx.api.get(`backtests/${encodeURIComponent(r.name)}`);
      } catch (error) {
        toast(`could not open ${r.name}: ${error.message}`);
        return;
      }
      detail.node.querySelector("h2").textContent = report.name;
      replace(detail.slot,
        report.png_url ? h("img", { class: "report", src: report.png_url, alt: `PnL chart of ${report.name}` }) : null,
        report.markdown ? h("pre", { class: "report-text" }, report.markdown) : null);
      detail.node.hidden = false;
      detail.node.scrollIntoView({ behavior: "smooth", block: "start" });
    }

    async function refresh() {
      const data = await ctx.api.get("backtests");
      replace(list.slot, table([
        { label: "Report", value: (r) => r.name },
        { label: "Written", value: (r) => time(r.modified_ns) },
        { label: "Chart", value: (r) => (r.png_url ? "PNG" : "—") },
      ], data.reports, { onRow: open, testid: "backtests-table",
        empty: "no backtest reports in data_dir (arbot backtest --out DATA_DIR/NAME writes one)" }));
    }

    return { refresh };
  },
};
