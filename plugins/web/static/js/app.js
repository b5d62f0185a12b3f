// The console's shell: login, navigation (#/page in the address: no secret ever goes in a URL),
// the live event stream, and refreshing the page on view when something it shows changed.

import * as api from "./api.js";
import { h, replace, toast } from "./dom.js";
import overview from "./pages/overview.js";
import opportunities from "./pages/opportunities.js";
import executions from "./pages/executions.js";
import orders from "./pages/orders.js";
import inventory from "./pages/inventory.js";
import risk from "./pages/risk.js";
import system from "./pages/system.js";
import backtests from "./pages/backtests.js";
import fleet from "./pages/fleet.js";

const PAGES = [overview, opportunities, executions, orders, inventory, risk, system, backtests, fleet];
const ROLE_RANK = { viewer: 0, operator: 1, admin: 2 };
const REFRESH_MS = 5000; // ages and staleness move even when no event arrives
const MIN_GAP_MS = 700; // a burst of events refreshes once

const state = { session: null, page: null, mounted: null, source: null, timer: null, pending: false, last: 0,
  loading: null, again: false };

function ctxFor(session) {
  const rank = ROLE_RANK[session.role] ?? -1;
  return {
    user: session.user,
    role: session.role,
    /** True when the user's role may run verbs of ``role`` (buttons are only drawn then). */
    can: (role) => rank >= ROLE_RANK[role],
    api,
  };
}

function showLogin(message = "") {
  stopLive();
  state.session = null;
  state.mounted = null;
  replace(document.getElementById("app")); // nothing of the console stays in the page
  document.getElementById("app").hidden = true;
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = message;
  document.getElementById("login-token").value = "";
  document.getElementById("login-token").focus();
}

function stopLive() {
  if (state.source) state.source.close();
  state.source = null;
  clearInterval(state.timer);
  state.timer = null;
}

function currentPage() {
  const id = location.hash.replace(/^#\/?/, "").split("?")[0];
  return PAGES.find((p) => p.id === id) || PAGES[0];
}

function buildShell(session) {
  const app = document.getElementById("app");
  const dot = h("span", { class: "live-dot", id: "live-dot", title: "live updates" });
  const nav = h("nav", { class: "nav", "aria-label": "pages" },
    PAGES.map((p) => h("a", { href: `#/${p.id}`, "data-page": p.id }, p.title)));
  const logoutButton = h("button", { class: "secondary", id: "logout", onclick: async () => {
    await api.logout().catch(() => {});
    showLogin();
  } }, "Log out");
  replace(app,
    h("header", { class: "topbar" },
      h("span", { class: "brand" }, "arbot"), nav,
      h("span", { class: "who" }, dot, h("span", { class: "muted", id: "whoami" }, `${session.user} · ${session.role}`),
        logoutButton)),
    h("main", { class: "page", id: "page" }));
  app.hidden = false;
  document.getElementById("login").hidden = true;
}

async function route() {
  if (!state.session) return;
  const page = currentPage();
  for (const a of document.querySelectorAll(".nav a")) a.classList.toggle("active", a.dataset.page === page.id);
  const root = document.getElementById("page");
  replace(root);
  root.dataset.page = page.id;
  root.removeAttribute("data-refreshed"); // set again once this page has loaded
  document.title = `${page.title} · arbot`;
  state.page = page;
  const mounted = page.mount(root, ctxFor(state.session));
  state.mounted = mounted;
  await refresh(true);
}

/** Reload what the page on view shows; one load at a time (a request meanwhile runs once after it). */
async function refresh(force = false) {
  const mounted = state.mounted;
  if (!mounted || !mounted.refresh) return;
  if (!force && document.hidden) return;
  if (state.loading === mounted) { state.again = true; return; }
  state.loading = mounted;
  state.last = Date.now();
  try {
    await mounted.refresh();
    if (state.mounted === mounted) document.getElementById("page").setAttribute("data-refreshed", String(state.last));
  } catch (error) {
    if (error instanceof api.ApiError && error.status === 401) return; // the login form is already showing
    if (state.mounted === mounted) toast(`could not load: ${error.message}`);
  } finally {
    if (state.loading === mounted) state.loading = null;
  }
  if (state.again && state.mounted === mounted) { state.again = false; await refresh(); }
}

/** Refresh the page on view when an event it listens to arrives, at most once per MIN_GAP_MS. */
function onEvent(type) {
  const page = state.page;
  if (!page || !(page.events || []).includes(type) || state.pending) return;
  const wait = Math.max(0, state.last + MIN_GAP_MS - Date.now());
  state.pending = true;
  setTimeout(() => { state.pending = false; refresh(); }, wait);
}

function startLive() {
  stopLive();
  state.source = api.events(onEvent, (on) => document.getElementById("live-dot")?.classList.toggle("on", on));
  state.timer = setInterval(() => refresh(), REFRESH_MS);
}

async function enter(session) {
  state.session = session;
  buildShell(session);
  startLive();
  await route();
}

async function start() {
  api.setLoggedOutHandler(() => showLogin("Your session ended: log in again."));
  document.getElementById("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const field = document.getElementById("login-token");
    const error = document.getElementById("login-error");
    error.textContent = "";
    try {
      const session = await api.login(field.value);
      field.value = "";
      await enter(session);
    } catch (err) {
      error.textContent = err.status === 401 ? "That token is not valid." : `Could not log in: ${err.message}`;
    }
  });
  window.addEventListener("hashchange", route);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
  let resizing = null; // charts are drawn at their card's width: redraw once a resize settles
  window.addEventListener("resize", () => { clearTimeout(resizing); resizing = setTimeout(() => refresh(), 250); });
  let session = null;
  try { session = await api.session(); } catch { session = null; }
  if (session) await enter(session);
  else showLogin();
}

start();
