// Building DOM nodes without innerHTML: every value from the server goes in as text, never as markup.

/** h("td", {class: "num", onclick: fn}, "12.5", child, [more]) -> an element. */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

/** Append strings (as text), nodes and nested arrays; null/undefined/false are skipped. */
export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replace every child of ``node``. */
export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

/**
 * A table from column specs: {label, value(row) -> text|Node, num?: bool, cls?(row), narrow?: false}
 * (``narrow: false``: the column is left out on a phone-sized screen; ``wrap: true``: long text wraps).
 * ``onRow(row)`` makes rows clickable (and keyboard-focusable).
 */
export function table(columns, rows, { onRow = null, rowClass = null, empty = "nothing yet", testid = null } = {}) {
  if (!rows.length) return h("p", { class: "empty", "data-testid": testid }, empty);
  const colClass = (c) => [c.num ? "num" : "", c.narrow === false ? "wide-only" : "", c.wrap ? "wrap" : ""].join(" ").trim();
  const head = h("tr", {}, columns.map((c) => h("th", { class: colClass(c) || null }, c.label)));
  const body = rows.map((row) => {
    const tr = h("tr", { class: [onRow ? "clickable" : "", rowClass ? rowClass(row) : ""].join(" ").trim() || null });
    if (onRow) {
      tr.tabIndex = 0;
      tr.addEventListener("click", () => onRow(row));
      tr.addEventListener("keydown", (e) => { if (e.key === "Enter") onRow(row); });
    }
    for (const c of columns) {
      const value = c.value(row);
      const cls = [colClass(c), c.cls ? c.cls(row) : ""].join(" ").trim();
      tr.append(h("td", { class: cls || null }, value === null || value === undefined ? "" : value));
    }
    return tr;
  });
  return h("div", { class: "table-wrap", "data-testid": testid },
    h("table", {}, h("thead", {}, head), h("tbody", {}, body)));
}

/** A definition list of [term, value] pairs. */
export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "")]));
}

/** A short message at the bottom of the screen. */
export function toast(message, ms = 4000) {
  const node = h("div", { class: "toast", role: "status" }, message);
  document.body.append(node);
  setTimeout(() => node.remove(), ms);
}
