// Numbers for people, as bot/units.py rounds them (that module owns the rule; this is its port for
// the browser, and tests/browser/test_units_js.py holds the two to the same output). The API gives
// exact decimal strings; they are rounded here as decimal digits (BigInt), never through floats.

const SIGNIFICANT = 6;
const MAX_PLACES = 8;
const PRICE_DIGITS = 8;
const FIAT = new Set(["USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "USDC", "USDT", "DAI", "PYUSD", "FDUSD", "TUSD",
  "BUSD", "USDP", "EURC"]);

/** "-12.3400" / "1E-7" -> {neg, digits: BigInt, scale} with value = ±digits × 10^-scale; null if not a number. */
function parse(text) {
  const m = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(String(text).trim());
  if (!m || (!m[2] && !m[3])) return null;
  const frac = m[3] || "";
  let scale = frac.length - Number(m[4] || 0);
  let digits = BigInt((m[2] || "") + frac || "0");
  if (scale < 0) { digits *= 10n ** BigInt(-scale); scale = 0; }
  return { neg: m[1] === "-", digits, scale };
}

/** Round to ``places`` decimals, half to even (Decimal's ROUND_HALF_EVEN). */
function quantize(d, places) {
  if (places >= d.scale) return { neg: d.neg, digits: d.digits * 10n ** BigInt(places - d.scale), scale: places };
  const divisor = 10n ** BigInt(d.scale - places);
  let q = d.digits / divisor;
  const r = d.digits % divisor;
  const half = divisor / 2n;
  if (r > half || (r === half && q % 2n === 1n)) q += 1n;
  return { neg: d.neg, digits: q, scale: places };
}

/** Fixed-point text with exactly ``scale`` decimals (Python's format(x, "f")). */
function fixed(d) {
  let s = d.digits.toString().padStart(d.scale + 1, "0");
  if (d.scale > 0) s = `${s.slice(0, -d.scale)}.${s.slice(-d.scale)}`;
  return (d.neg && d.digits !== 0n ? "-" : "") + s;
}

/** Without trailing zeros; "0" for any zero (units._plain). */
function plain(d) {
  if (d.digits === 0n) return "0";
  let s = fixed(d);
  if (s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
  return s;
}

/** units.significant: ``digits`` significant digits, at most ``maxPlaces`` decimals, no trailing zeros. */
export function significant(text, digits = SIGNIFICANT, maxPlaces = MAX_PLACES) {
  const d = parse(text);
  if (d === null) return String(text);
  if (d.digits === 0n) return "0";
  const adjusted = d.digits.toString().length - 1 - d.scale;
  const places = Math.min(Math.max(digits - adjusted - 1, 0), maxPlaces);
  return plain(quantize(d, places));
}

/** units.amount: a sum of money without its unit: cents for fiat and stablecoins, else significant digits. */
export function amount(text, asset = "") {
  const d = parse(text);
  if (d === null) return String(text);
  const fiat = FIAT.has(String(asset).toUpperCase());
  if (fiat && d.digits === 0n) return "0.00";
  if (fiat && d.digits * 100n >= 10n ** BigInt(d.scale)) return fixed(quantize(d, 2)); // |value| >= 0.01
  return significant(text);
}

/** units.money: "12.35 USD". */
export function money(text, asset) {
  return `${amount(text, asset)} ${asset}`;
}

/** units.price without a known tick: PRICE_DIGITS significant digits. */
export function price(text) {
  return significant(text, PRICE_DIGITS);
}

/** units.qty without a known lot: significant digits. */
export function qty(text) {
  return significant(text);
}

/** units.moneys: "1.10 USD, 0.0000455 SOL" (sorted by asset), "0" when empty. */
export function moneys(byAsset) {
  const keys = Object.keys(byAsset || {}).sort();
  return keys.map((a) => money(byAsset[a], a)).join(", ") || "0";
}

/** An order's whole fee (bot.domain.Order.fees): its ``fee`` in its quote asset, then each of its ``other_fees``
 * (paid in neither base nor quote, a swap's network fee in SOL) by asset, never summed: "0.12 USDC + 0.000005 SOL". */
export function orderFees(order) {
  const other = order.other_fees || {};
  const quote = order.fee_asset || quoteOf(order.symbol);
  return [money(order.fee, quote), ...Object.keys(other).sort().map((a) => money(other[a], a))].join(" + ");
}

/** ``fn(value, ...rest)``, or "—" for a missing value (null: not known yet). */
export function or(fn, value, ...rest) {
  return value === null || value === undefined || value === "" ? "—" : fn(value, ...rest);
}

/** The quote asset of "SOL/USDC". */
export function quoteOf(symbol) {
  return String(symbol).split("/")[1] || "";
}

/** units.counted: "1 strategy", "3 strategies", "0 orders": a count with its noun agreeing (``plural``: when adding
 * "s" or turning "y" into "ies" is not its plural). */
export function counted(n, noun, plural = null) {
  if (n === 1) return `${n} ${noun}`;
  if (plural === null) {
    plural = noun.endsWith("y") && !"aeiou".includes(noun.slice(-2, -1)) ? `${noun.slice(0, -1)}ies` : `${noun}s`;
  }
  return `${n} ${plural}`;
}
