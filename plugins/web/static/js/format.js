// Display helpers for times, durations and signs. Amounts are rounded by units.js (bot/units.py's rule).

/** "1.25" -> "pos", "-3" -> "neg", "0" -> "". */
export function sign(amount) {
  if (amount === null || amount === undefined || amount === "") return "";
  const text = String(amount).trim();
  if (text.startsWith("-")) return "neg";
  return /[1-9]/.test(text) ? "pos" : "";
}

/** Nanoseconds since the epoch (number or numeric string) -> a Date. */
function nsDate(ns) {
  return new Date(Number(BigInt(ns) / 1000000n));
}

/** "2026-12-05 23:14:07" in the browser's zone. */
export function time(ns) {
  if (ns === null || ns === undefined) return "—";
  const d = nsDate(ns);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** "HH:MM:SS" only (tables refreshed live). */
export function clock(ns) {
  return ns === null || ns === undefined ? "—" : time(ns).slice(11);
}

/** Seconds -> "3d 4h", "12m 5s", "0.8s". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return "—";
  let s = Number(seconds);
  if (s < 10) return `${s.toFixed(1)}s`;
  s = Math.floor(s);
  const d = Math.floor(s / 86400), hh = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${m}m`;
  if (m) return `${m}m ${sec}s`;
  return `${sec}s`;
}

/** Milliseconds with no more precision than is useful. */
export function ms(value) {
  if (value === null || value === undefined || value === "") return "—";
  const n = Number(value);
  return Number.isFinite(n) ? `${n < 10 ? n.toFixed(1) : Math.round(n)} ms` : String(value);
}

/** A YYYY-MM-DD date input value for a Date (local). */
export function dateInput(d) {
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}
