// Talking to the REST API with the session cookie. Two kinds of failure matter to the
// screens: the phone is offline (OfflineError) or the server said no (ApiError).

export class OfflineError extends Error {}

export class ApiError extends Error {
  constructor(status, data) {
    // Errors come as {"field": ["message", …]}, with messages about no single field under "detail".
    const detail = data && data.detail ? [].concat(data.detail).join(" ") : "";
    super(detail || (data && JSON.stringify(data)) || `HTTP ${status}`);
    this.status = status;
    this.data = data;
    // 401: nobody is signed in (no session, or it ended); 403: not a patient's session.
    this.signedOut = status === 401 || status === 403;
  }
}

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

// GETs keep the browser's HTTP cache on: the patient's own reads come with an ETag and
// "Cache-Control: private, no-cache", so the browser asks "only if changed" (If-None-Match) and
// reuses its copy on a 304. With the service worker in charge, it does the same with its saved copy.
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  let response;
  try {
    response = await fetch(`/api/v1/${path}`, {
      method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new OfflineError(String(error));
  }
  // The service worker answers with 503 and this header when it has nothing saved.
  if (response.status === 503 && response.headers.get("X-Offline")) throw new OfflineError("offline");
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return { data, cached: response.headers.get("X-From-Cache") === "1" };
}

/** The first message of a DRF error body, for showing next to a form. */
export function errorText(error, fallback) {
  const data = error && error.data;
  if (data && typeof data === "object") {
    const first = Object.values(data)[0];
    if (Array.isArray(first) && first.length) return String(first[0]);
    if (typeof first === "string") return first;
  }
  return fallback;
}
