// Building blocks the pages share: cards, figures, pills, dialogs, the pause/resume buttons.

import { h, replace, toast } from "./dom.js";
import { amount, money } from "./units.js";

/** A card with a heading; ``slot`` (returned) is where its content goes. */
export function card(title, { testid = null, actions = null } = {}) {
  const slot = h("div", { class: "card-body" });
  const node = h("section", { class: "card", "data-testid": testid },
    h("div", { class: "toolbar" }, h("h2", {}, title), actions), slot);
  return { node, slot };
}

/** One headline figure. */
export function kpi(label, value, { cls = null, testid = null } = {}) {
  return h("div", { class: "kpi" }, h("div", { class: "label" }, label),
    h("div", { class: ["value", cls].filter(Boolean).join(" "), "data-testid": testid }, value));
}

/** A status pill: level "ok" | "warn" | "bad" | "". */
export function pill(text, level = "", attrs = {}) {
  return h("span", { class: `pill ${level}`.trim(), ...attrs }, text);
}

/** A modal dialog; resolves with the value of the button pressed (null when dismissed). */
export function dialog(title, body, buttons = [{ label: "Close", value: null, cls: "secondary" }], { testid = null } = {}) {
  return new Promise((resolve) => {
    const node = h("dialog", { "data-testid": testid, "aria-label": title });
    const close = (value) => { node.close(); node.remove(); resolve(value); };
    replace(node, h("h2", {}, title), body,
      h("div", { class: "dialog-actions" },
        buttons.map((b) => h("button", { class: b.cls || null, type: "button", onclick: () => close(b.value) }, b.label))));
    node.addEventListener("cancel", (e) => { e.preventDefault(); close(null); });
    document.body.append(node);
    node.showModal();
  });
}

/** Run an API call from a button: disabled while it runs, errors shown, ``after`` on success. */
export async function act(button, call, after = null) {
  button.disabled = true;
  try {
    const result = await call();
    if (after) await after(result);
    return result;
  } catch (error) {
    toast(error.status === 403 ? "Your role may not do that." : `Failed: ${error.message}`);
    return null;
  } finally {
    button.disabled = false;
  }
}

/**
 * POST ``path`` from ``button``; when the server asks first (202 with ``confirm_token``: resume after the kill
 * switch, leaving observe mode, a fleet kill) the user is asked once in a dialog (``testid``), then the same call
 * with the token runs it. Resolves with the final answer, or null when it failed or was cancelled.
 */
export async function twoStep(button, ctx, path, body, { title = "Confirm?", testid = "confirm-dialog" } = {}) {
  const first = await act(button, () => ctx.api.post(path, body));
  if (!first || !first.confirm_token) return first;
  const ok = await dialog(title, h("p", {}, first.question),
    [{ label: "Cancel", value: false, cls: "secondary" }, { label: "Confirm", value: true, cls: "danger" }],
    { testid });
  if (!ok) return null;
  return act(button, () => ctx.api.post(path, { ...body, confirm_token: first.confirm_token }));
}

/** A button that POSTs ``path`` (with the CSRF header; confirmed in a dialog when the server asks) and then
 * calls ``after``. */
export function verb(ctx, label, path, { testid = null, cls = null, body = {}, after = null } = {}) {
  const button = h("button", { class: cls, "data-testid": testid, type: "button",
    onclick: async () => {
      const done = await twoStep(button, ctx, path, body, { title: `${label}?` });
      if (done && after) await act(button, () => after(done));
    } }, label);
  return button;
}

/** Sums of money, one per asset ("1.10 USD, -0.20 USDC"), each coloured by its own sign. */
export function moneyNodes(byAsset) {
  const keys = Object.keys(byAsset || {}).sort();
  if (!keys.length) return ["0"];
  return keys.flatMap((asset, i) => {
    const shown = amount(byAsset[asset], asset);
    const cls = shown.startsWith("-") ? "neg" : /[1-9]/.test(shown) ? "pos" : null;
    return [i ? ", " : null, h("span", { class: cls }, money(byAsset[asset], asset))];
  });
}
