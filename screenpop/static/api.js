// The REST API with the sign-in token. The token lives in sessionStorage (this tab only,
// gone when it closes), goes out only in the Authorization header, and is never shown or
// logged. It is refreshed (POST /api/auth/refresh) once two thirds of its life are gone, so
// an agent is never signed out mid-shift; whoever holds it (the sockets) is told of the new
// one (onTokenRenewed).

const TOKEN = "tamas.token";
const USER = "tamas.user";
// When this tab's token expires, in this browser's clock (from the server's expires_in, so
// a clock set wrong does not matter).
const EXPIRES = "tamas.expires";
const LIFE = "tamas.life"; // how long the token was good for when it was issued (ms)
const RETRY_MS = 5_000; // a refresh that could not reach the server is tried again after this
export const LAST_SEQ = "tamas.lastSeq";
export const CARDS = "tamas.cards";

export class ApiError extends Error {
  /** status 0: the server could not be reached. `error` is the API's {code, message, fields}. */
  constructor(status, error, retryAfter = null) {
    super(error?.message || `HTTP ${status}`);
    this.status = status;
    this.error = error;
    this.retryAfter = retryAfter;
  }
}

let signedOut = () => {};
const renewedHandlers = new Set();
let refreshTimer = null;
let refreshing = null; // the refresh in flight, so two never race with one token
let inflight = 0; // requests sent and not answered yet
const idle = []; // resolved when no request is in flight
const MAX_TIMER_MS = 2 ** 31 - 1;
const DRAIN_MS = 10_000; // a refresh waits this long at most for the requests in flight

/** Called when the server says the token is no longer good (expired, revoked). */
export function onSignedOut(handler) {
  signedOut = handler;
}

/** `handler(token)` is called with each new token once it replaced the old one (which the
 * server revoked: a socket signed in with it must sign in again). Returns an unsubscribe. */
export function onTokenRenewed(handler) {
  renewedHandlers.add(handler);
  return () => renewedHandlers.delete(handler);
}

function keep(data) {
  sessionStorage.setItem(TOKEN, data.access_token);
  sessionStorage.setItem(EXPIRES, String(Date.now() + data.expires_in * 1000));
  sessionStorage.setItem(LIFE, String(data.expires_in * 1000));
  if (data.user) sessionStorage.setItem(USER, JSON.stringify(data.user));
  keepFresh();
}

/** Plan the next refresh of this tab's token (after a sign-in, a refresh or a reload). */
export function keepFresh() {
  clearTimeout(refreshTimer);
  refreshTimer = null;
  const expires = Number(sessionStorage.getItem(EXPIRES));
  if (!token() || !expires) return;
  const left = expires - Date.now();
  // Two thirds of the life gone: 8 h into a 12 h token, the last third to retry in.
  const issuedFor = Number(sessionStorage.getItem(LIFE)) || left;
  const due = Math.max(0, left - issuedFor / 3);
  // A timer holds at most ~24.8 days; a longer wait is planned again when that one fires.
  if (due > MAX_TIMER_MS) refreshTimer = setTimeout(keepFresh, MAX_TIMER_MS);
  else refreshTimer = setTimeout(() => refreshToken().catch(() => {}), due);
}

/** Swap the token for a new one now; resolves to the new token. */
export function refreshToken() {
  refreshing ??= (async () => {
    const old = token();
    try {
      if (inflight) {
        await new Promise((resolve) => {
          idle.push(resolve);
          setTimeout(resolve, DRAIN_MS);
        });
      }
      const data = await api("/api/auth/refresh", { method: "POST", gate: false });
      if (token() !== old) return token(); // signed out or in again meanwhile
      keep(data);
      for (const handler of renewedHandlers) handler(data.access_token);
      return data.access_token;
    } catch (err) {
      // The server unreachable or busy: try again soon while the token lasts; refused (401),
      // request() has signed the tab out already.
      if (err.status !== 401 && token() === old) {
        const left = Number(sessionStorage.getItem(EXPIRES)) - Date.now();
        clearTimeout(refreshTimer);
        if (left > 0) refreshTimer = setTimeout(() => refreshToken().catch(() => {}), Math.min(RETRY_MS, left / 2));
      }
      throw err;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

// A tab in the background runs its timers late (or not at all while the machine sleeps):
// back in front, a refresh that is due is made at once.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && token()) keepFresh();
});

export const token = () => sessionStorage.getItem(TOKEN);

export function currentUser() {
  try {
    return JSON.parse(sessionStorage.getItem(USER) ?? "null");
  } catch {
    return null;
  }
}

/** Forget everything this tab kept for the signed-in agent. */
export function forget() {
  clearTimeout(refreshTimer);
  refreshTimer = null;
  for (const key of [TOKEN, USER, EXPIRES, LIFE, LAST_SEQ, CARDS]) {
    sessionStorage.removeItem(key);
  }
}

export async function api(path, { method = "GET", body, signal, gate = true, headers } = {}) {
  const response = await request(path, {
    method,
    body,
    signal,
    gate,
    headers,
    accept: "application/json",
  });
  if (response.status === 204) return null;
  return response.json().catch(() => null);
}

/**
 * A file from the API (a recording's audio) as a Blob, with the name the server gave it
 * (Content-Disposition). Fetched with the token: an <audio src> or a link cannot send it.
 */
export async function apiBlob(path, { signal } = {}) {
  const response = await request(path, { signal, accept: "*/*" });
  return { blob: await response.blob(), filename: filenameOf(response) };
}

/**
 * The response when it is a success; an ApiError (401: signed out) otherwise. While a
 * refresh is under way, requests wait for the new token (`gate`), and the refresh waits for
 * those in flight: none reaches the server with a token it has just revoked.
 */
async function request(path, { method = "GET", body, signal, accept, gate = true, headers }) {
  if (gate && refreshing) await refreshing.catch(() => {});
  inflight += 1;
  try {
    return await send(path, { method, body, signal, accept, headers });
  } finally {
    inflight -= 1;
    if (inflight === 0) for (const done of idle.splice(0)) done();
  }
}

async function send(path, { method, body, signal, accept, headers: extra = {} }) {
  const bearer = token();
  const headers = { ...extra, Accept: accept };
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: "no-store",
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, null);
  }
  if (response.status === 401 && bearer && token() && token() !== bearer) {
    // Sent with the token a refresh has replaced since: once more with the new one.
    return send(path, { method, body, signal, accept });
  }
  if (!response.ok) {
    const data = await response.json().catch(() => null);
    if (response.status === 401 && bearer) signedOut();
    throw new ApiError(response.status, data?.error, response.headers.get("Retry-After"));
  }
  return response;
}

function filenameOf(response) {
  const header = response.headers.get("Content-Disposition") ?? "";
  const encoded = /filename\*=utf-8''([^;]+)/i.exec(header);
  if (encoded) {
    try {
      return decodeURIComponent(encoded[1]);
    } catch {
      // fall through to the plain name
    }
  }
  return /filename="([^"]*)"/i.exec(header)?.[1] ?? "";
}

/** Sign in; keeps the token and the user for this tab. Returns the user. */
export async function signIn(username, password) {
  forget();
  const data = await api("/api/auth/token", { method: "POST", body: { username, password } });
  keep(data);
  return data.user;
}

/** Revoke the token on the server (best effort) and forget it here. */
export async function signOut() {
  try {
    if (token()) await api("/api/auth/logout", { method: "POST" });
  } catch {
    // Signed out here either way; an unreachable server lets the token expire on its own.
  } finally {
    forget();
  }
}
