// The one place the console talks to the server (the web plugin's REST API under /api/v1/).
// The session lives in an HttpOnly cookie the server sets at login; this module never sees or
// stores the token after the login call. State-changing calls carry the CSRF token the server
// gave at login, in a header (a forged cross-site form or fetch cannot know it).

const BASE = "/api/v1/";
const CSRF_HEADER = "X-CSRF-Token";

let csrfToken = null;
let onLoggedOut = () => {};

export class ApiError extends Error {
  constructor(status, message, body = null) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** Called whenever the server answers 401 (the session ended): the app shows the login form. */
export function setLoggedOutHandler(handler) {
  onLoggedOut = handler;
}

function url(path, params = {}) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== "") query.set(k, String(v));
  }
  const q = query.toString();
  return BASE + path + (q ? `?${q}` : "");
}

async function request(method, path, { params = {}, body = undefined, quiet401 = false } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    if (csrfToken) headers[CSRF_HEADER] = csrfToken;
  }
  const response = await fetch(url(path, params), {
    method, headers, credentials: "same-origin", cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    if (response.status === 401 && !quiet401) onLoggedOut();
    // the server answers {"error": "a sentence naming what to fix"}; a proxy may answer anything
    const message = typeof data?.error === "string" ? data.error : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message, data);
  }
  return data;
}

export const get = (path, params = {}) => request("GET", path, { params });
export const post = (path, body = {}) => request("POST", path, { body });

/** The URL of a CSV export (a plain GET: the cookie authenticates it, no CSRF needed to read). */
export function csvUrl(path, params = {}) {
  return url(path, { ...params, format: "csv" });
}

/** A date range from two YYYY-MM-DD inputs (local days, ``to`` inclusive) as the API's query parameters. */
export function dateRange(fromDay, toDay) {
  const since = fromDay ? new Date(`${fromDay}T00:00:00`) : null;
  const until = toDay ? new Date(`${toDay}T00:00:00`) : null;
  if (until) until.setDate(until.getDate() + 1); // the next local midnight (a calendar day, DST or not)
  return { since: since ? since.toISOString() : "", until: until ? until.toISOString() : "" };
}

function remember(session) {
  csrfToken = session?.csrf_token ?? null;
  return session;
}

/** Log in with a token: the server answers with the user and role and sets the session cookie. */
export async function login(token) {
  return remember(await request("POST", "login", { body: { token }, quiet401: true }));
}

/** The current session (user, role) or null when logged out. */
export async function session() {
  try {
    return remember(await request("GET", "session", { quiet401: true }));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

export async function logout() {
  try { await request("POST", "logout", { quiet401: true }); } finally { csrfToken = null; }
}

/**
 * Live events over server-sent events. The browser's EventSource reconnects by itself and sends
 * Last-Event-ID, so the server resumes after the last event seen. ``onEvent(type, data)``;
 * ``onState(connected)``.
 */
export function events(onEvent, onState = () => {}) {
  const source = new EventSource(url("events"), { withCredentials: true });
  source.onopen = () => onState(true);
  source.onerror = () => onState(false);
  const dispatch = (type, e) => {
    let data = null;
    try { data = JSON.parse(e.data); } catch { data = e.data; }
    onEvent(type, data);
  };
  // the web plugin's event names (plugins/web/events.py); "reset": what was missed is gone, reload
  for (const type of ["orders", "fills", "opportunities", "executions", "feeds", "alerts", "status", "reset"]) {
    source.addEventListener(type, (e) => dispatch(type, e));
  }
  return source;
}
