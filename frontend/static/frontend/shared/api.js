// Talking to the REST API with the session cookie and the CSRF token, for the patient app
// and the coordinator pages alike. Every failure is an ApiError: `offline` when the server
// could not be reached, else the server's status and its answer (DRF errors come as
// {"field": ["message", …]}, with messages about no single field under "detail").

const API_ROOT = "/api/v1/";

export class ApiError extends Error {
  /** Status 0: no answer from the server (no connection, or the service worker had nothing saved). */
  constructor(status, data = null) {
    const detail = data && data.detail ? [].concat(data.detail).join(" ") : "";
    super(status === 0 ? "offline" : detail || (data && JSON.stringify(data)) || `HTTP ${status}`);
    this.status = status;
    this.data = data;
    this.offline = status === 0;
    // 401: nobody is signed in (no session, or it ended); 403: not this kind of session.
    this.signedOut = status === 401 || status === 403;
  }
}

export function isOffline(error) {
  return error instanceof ApiError && error.offline;
}

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/**
 * The answer to a read the patient app's shell started before the modules had loaded (its
 * `earlyReads`, the same GET with the same headers), once: a second read of the address asks
 * the server again. forgetEarlyReads() drops those not taken, so none is read stale later.
 */
function takeEarly(url) {
  const early = globalThis.earlyReads;
  const answer = early && early[url];
  if (answer) delete early[url];
  return answer;
}

export function forgetEarlyReads() {
  delete globalThis.earlyReads;
}

/**
 * Call the API: `path` is relative to its root ("me/checklist/"), or one of the API's own
 * whole links (a page's "next"). Resolves to {data, cached, savedAt}; throws ApiError.
 *
 * `cached` is true when the service worker answered from its saved copy (offline); `savedAt` is
 * then when the server gave that copy (its Date header), for "saved on …".
 *
 * GETs keep the browser's HTTP cache on: the patient's own reads come with an ETag and
 * "Cache-Control: private, no-cache", so the browser asks "only if changed" (If-None-Match) and
 * reuses its copy on a 304. With the service worker in charge, it does the same with its saved copy.
 */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  const url = /^https?:/.test(path) ? path : API_ROOT + path;
  let response;
  try {
    response = await (method === "GET" && takeEarly(url)) || await fetch(url, {
      method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0);
  }
  // The service worker answers with 503 and this header when it has nothing saved.
  if (response.status === 503 && response.headers.get("X-Offline")) throw new ApiError(0);
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  const cached = response.headers.get("X-From-Cache") === "1";
  return { data, cached, savedAt: cached ? response.headers.get("Date") : null };
}
