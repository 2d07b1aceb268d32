// The REST API with the sign-in token. The token lives in sessionStorage (this tab only,
// gone when it closes), goes out only in the Authorization header, and is never shown or
// logged.

const TOKEN = "tamas.token";
const USER = "tamas.user";
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

/** Called when the server says the token is no longer good (expired, revoked). */
export function onSignedOut(handler) {
  signedOut = handler;
}

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
  for (const key of [TOKEN, USER, LAST_SEQ, CARDS]) sessionStorage.removeItem(key);
}

export async function api(path, { method = "GET", body, signal } = {}) {
  const response = await request(path, { method, body, signal, accept: "application/json" });
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

/** The response when it is a success; an ApiError (401: signed out) otherwise. */
async function request(path, { method = "GET", body, signal, accept }) {
  const bearer = token();
  const headers = { Accept: accept };
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
  sessionStorage.setItem(TOKEN, data.access_token);
  sessionStorage.setItem(USER, JSON.stringify(data.user));
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
