// The patient app's service worker: keeps the app and the last data on the phone, shows
// reminders sent by Web Push, and renews the push subscription when the browser replaces it.
// Rendered by Django so that the list of files below names their hashed URLs.
"use strict";
const DEFAULT_TITLE = {{ default_title|safe }};
const VERSION = "{{ version }}";
const PRECACHE = {{ precache|safe }};
const SHELL_URL = {{ shell_url|safe }};
const STATIC_PREFIX = {{ static_prefix|safe }};
const ICON_URL = {{ icon_url|safe }};
const SHELL_CACHE = "prep-shell-" + VERSION;
const DATA_CACHE = "prep-data";
const STATE_CACHE = "prep-state";
const NETWORK_TIMEOUT_MS = 8000;
const TEXTS_PREFIX = "/api/v1/checklist-texts/";
// The app's own screens; other pages (coordinator pages, admin, API docs) are left alone.
const APP_PAGES = /^\/($|tasks\/|inbox\/|settings\/|access\/|health-check\/|when-to-call\/|check-in\/|about\/|join\/|signin\/)/;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(SHELL_CACHE)
      .then((cache) => cache.addAll(PRECACHE.map((url) => new Request(url, { cache: "reload", credentials: "same-origin" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("prep-shell-") && n !== SHELL_CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

function withTimeout(promise) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timeout")), NETWORK_TIMEOUT_MS);
    promise.then((value) => { clearTimeout(timer); resolve(value); }, (error) => { clearTimeout(timer); reject(error); });
  });
}

/** The request, asking "only if changed" when a saved copy has a validator (the patient's API reads). */
function conditional(request, saved) {
  const etag = saved && saved.headers.get("ETag");
  if (!etag || request.mode === "navigate") return request;
  const headers = new Headers(request.headers);
  headers.set("If-None-Match", etag);
  // With a validator of its own the request bypasses the HTTP cache, and a 304 comes back here.
  return new Request(request, { headers });
}

/** The copy to keep, one per address: the answers vary by Accept, Cookie and language, all of
 * them this phone's own (the saved data is emptied at sign-out), and a header the browser sets
 * differently on one request must never hide the saved "When to call" from a patient with no
 * signal, nor leave an older copy beside the newer one. */
function withoutVary(response) {
  if (!response.headers.has("Vary")) return response;
  const headers = new Headers(response.headers);
  headers.delete("Vary");
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

/** Ask the network first; keep a copy of good answers; fall back to the copy when offline.
 *
 * When the copy is still current the server answers 304 with no body (one small query on its
 * side), and the copy is what the page gets.
 */
async function networkFirst(request, cacheName, cacheKey, { forgetRefused = false } = {}) {
  const cache = await caches.open(cacheName);
  const saved = await cache.match(cacheKey || request);
  try {
    const response = await withTimeout(fetch(conditional(request, saved)));
    if (response.status === 304 && saved) return saved;
    if (response.ok) await cache.put(cacheKey || request, withoutVary(response.clone()));
    else if (forgetRefused && [401, 403, 404].includes(response.status)) await cache.delete(cacheKey || request);
    return response;
  } catch (error) {
    if (saved) {
      const headers = new Headers(saved.headers);
      headers.set("X-From-Cache", "1");
      return new Response(saved.body, { status: saved.status, statusText: saved.statusText, headers });
    }
    throw error;
  }
}

async function cacheFirst(request, cacheName = SHELL_CACHE) {
  const saved = await caches.match(request);
  if (saved) return saved;
  const response = await fetch(request);
  if (response.ok) (await caches.open(cacheName)).put(request, response.clone());
  return response;
}

function offlineJson() {
  return new Response(JSON.stringify({ detail: "offline" }), {
    status: 503, headers: { "Content-Type": "application/json", "X-Offline": "1" },
  });
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;

  if (request.mode === "navigate") {
    if (!APP_PAGES.test(url.pathname)) return;
    // Every screen is the same shell, so the latest copy of any of them serves them all.
    event.respondWith(networkFirst(request, SHELL_CACHE, SHELL_URL).catch(() => caches.match(SHELL_URL)));
  } else if (url.pathname.startsWith(TEXTS_PREFIX)) {
    // A protocol version's words: what is under one address never changes, so the saved copy
    // is used without asking. With the personal data, as only a signed-in reader gets them.
    event.respondWith(cacheFirst(request, DATA_CACHE).catch(offlineJson));
  } else if (url.pathname.startsWith("/api/v1/me/")) {
    event.respondWith(networkFirst(request, DATA_CACHE).catch(offlineJson));
  } else if (url.pathname.startsWith("/api/v1/following/")) {
    // A caregiver's followed plans and When to call, one saved copy per followed patient (its
    // link's id is in the path); a copy the server now refuses (access ended) is forgotten.
    event.respondWith(networkFirst(request, DATA_CACHE, undefined, { forgetRefused: true }).catch(offlineJson));
  } else if (url.pathname.startsWith(STATIC_PREFIX)) {
    event.respondWith(cacheFirst(request));
  } else if (PRECACHE.includes(url.pathname)) {
    // Translations and the manifest: fresh when online, saved copy offline.
    event.respondWith(networkFirst(request, SHELL_CACHE));
  }
});

// --- Reminders by Web Push ------------------------------------------------------------------

function taskUrl(data) {
  if (data.url) {
    // "/#/tasks/12" and "/tasks/12/" both name the step's screen.
    const url = new URL(data.url, self.location.origin);
    return url.hash.startsWith("#/") ? url.hash.slice(1) : url.pathname;
  }
  const task = data.task_id || data.task;
  return task ? `/tasks/${task}/` : "/inbox/";
}

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { body: event.data ? event.data.text() : "" };
  }
  const title = data.title || DEFAULT_TITLE;
  event.waitUntil(Promise.all([
    self.registration.showNotification(title, {
      body: data.body || "",
      icon: ICON_URL,
      badge: ICON_URL,
      tag: data.tag || (data.task_id || data.task ? `task-${data.task_id || data.task}` : undefined),
      data: { url: taskUrl(data), receipt: typeof data.receipt === "string" ? data.receipt : "" },
    }),
    // Open app windows refresh their unread badge.
    self.clients.matchAll({ type: "window" }).then((clients) => clients.forEach((c) => c.postMessage({ type: "inbox" }))),
  ]));
});

/** Tell the server the patient opened this message (its read receipt). The signed token is the
 * credential, so no cookie goes with it; a failure only loses the receipt, never the click. */
async function sendReceipt(token) {
  if (!token) return;
  try {
    await fetch("/api/v1/receipts/", {
      method: "POST",
      credentials: "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token }),
    });
  } catch {
    // Offline: the message was still opened; the receipt is simply not recorded.
  }
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const data = event.notification.data || {};
  const url = data.url || "/";
  event.waitUntil(sendReceipt(data.receipt));
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const open = windows.find((c) => new URL(c.url).origin === self.location.origin);
    if (open) {
      await open.focus();
      open.postMessage({ type: "navigate", url });
      return;
    }
    await self.clients.openWindow(url);
  })());
});

async function workerState() {
  const saved = await (await caches.open(STATE_CACHE)).match("/__state");
  return saved ? saved.json() : {};
}

async function csrfToken(state) {
  // Chromium gives workers the cookie store; elsewhere the page left the token for us.
  if (self.cookieStore) {
    const cookie = await self.cookieStore.get("csrftoken").catch(() => null);
    if (cookie) return cookie.value;
  }
  return state.csrf || "";
}

async function publicKey(old) {
  if (old && old.options && old.options.applicationServerKey) return old.options.applicationServerKey;
  const response = await fetch("/api/v1/me/push/public-key/", { credentials: "same-origin" });
  if (!response.ok) throw new Error("no push key");
  const key = (await response.json()).public_key;
  const padded = (key + "===".slice((key.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

/** The browser replaced or dropped the subscription: subscribe again and tell the server. */
async function resubscribe(event) {
  const state = await workerState();
  const subscription = event.newSubscription || await self.registration.pushManager.subscribe({
    userVisibleOnly: true, applicationServerKey: await publicKey(event.oldSubscription),
  });
  const headers = { "Content-Type": "application/json", "X-CSRFToken": await csrfToken(state) };
  const response = await fetch("/api/v1/me/push-subscriptions/", {
    method: "POST", credentials: "same-origin", headers, body: JSON.stringify(subscription.toJSON()),
  });
  if (!response.ok) return;
  const created = await response.json().catch(() => ({}));
  if (state.subscription_id && state.subscription_id !== created.id) {
    await fetch(`/api/v1/me/push-subscriptions/${state.subscription_id}/`, {
      method: "DELETE", credentials: "same-origin", headers,
    }).catch(() => {});
  }
  const cache = await caches.open(STATE_CACHE);
  await cache.put("/__state", new Response(JSON.stringify({ ...state, subscription_id: created.id || null }), {
    headers: { "Content-Type": "application/json" },
  }));
}

self.addEventListener("pushsubscriptionchange", (event) => {
  event.waitUntil(resubscribe(event));
});
