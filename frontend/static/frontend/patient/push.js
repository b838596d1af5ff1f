// Notifications on this phone: Web Push through the service worker.

import { api, ApiError } from "./api.js";

const SUB_KEY = "prep.push.subscription";

export function isIos() {
  return /iphone|ipad|ipod/i.test(navigator.userAgent) ||
    (navigator.platform === "MacIntel" && navigator.maxTouchPoints > 1);
}

export function isStandalone() {
  return matchMedia("(display-mode: standalone)").matches || navigator.standalone === true;
}

/** "ok", "ios-home-screen" (must be added to the home screen first), or "unsupported". */
export function support() {
  const capable = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  if (isIos() && !isStandalone()) return "ios-home-screen";
  return capable ? "ok" : "unsupported";
}

export function permission() {
  return "Notification" in window ? Notification.permission : "denied";
}

function keyBytes(base64url) {
  const padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

/** The server's public key, or null when the care team has not set notifications up. */
export async function publicKey() {
  try {
    const { data } = await api("me/push/public-key/");
    return data.public_key || null;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

export async function currentSubscription() {
  const registration = await navigator.serviceWorker.ready;
  return registration.pushManager.getSubscription();
}

/** Ask for permission, subscribe through the service worker and tell the server. */
export async function subscribe(key) {
  const answer = await Notification.requestPermission();
  if (answer !== "granted") return false;
  const registration = await navigator.serviceWorker.ready;
  const subscription = await registration.pushManager.subscribe({
    userVisibleOnly: true, applicationServerKey: keyBytes(key),
  });
  const { data } = await api("me/push-subscriptions/", { method: "POST", body: subscription.toJSON() });
  if (data && data.id) {
    localStorage.setItem(SUB_KEY, String(data.id));
    await shareWithWorker({ subscription_id: data.id });
  }
  return true;
}

export async function unsubscribe() {
  const subscription = await currentSubscription();
  if (subscription) await subscription.unsubscribe();
  const id = localStorage.getItem(SUB_KEY);
  if (id) {
    await api(`me/push-subscriptions/${id}/`, { method: "DELETE" }).catch(() => {});
    localStorage.removeItem(SUB_KEY);
    await shareWithWorker({ subscription_id: null });
  }
}

/**
 * The service worker cannot read cookies or localStorage; when the browser replaces a
 * push subscription it needs the CSRF token and the old subscription's id, so the page
 * leaves them where the worker can read them.
 */
export async function shareWithWorker(patch) {
  if (!("caches" in window)) return;
  const cache = await caches.open("prep-state");
  const old = await cache.match("/__state").then((r) => (r ? r.json() : {})).catch(() => ({}));
  await cache.put("/__state", new Response(JSON.stringify({ ...old, ...patch }), {
    headers: { "Content-Type": "application/json" },
  }));
}
