// Notifications on this phone: Web Push through the service worker.
//
// state() says which one of these is true now, in this order, so that the control in the
// settings never claims what it cannot do:
//   "unavailable"      the server has no VAPID key: nobody can get notifications yet
//   "offline"          the server could not be asked (no connection)
//   "ios-home-screen"  iPhone/iPad Safari: notifications work only in the app added to the Home Screen
//   "unsupported"      this browser has no Web Push
//   "denied"           the patient (or the phone) blocked notifications for this site
//   "on"               permission granted, this phone subscribed, and the patient wants push
//   "off"              everything else: the patient can turn them on

import { api, ApiError, isOffline } from "../shared/api.js";

const SUB_KEY = "prep.push.subscription";

export function isIos() {
  return /iphone|ipad|ipod/i.test(navigator.userAgent) ||
    (navigator.platform === "MacIntel" && navigator.maxTouchPoints > 1);
}

export function isAndroid() {
  return /android/i.test(navigator.userAgent);
}

/** "ios", "android" or "other": which platform's advice (and only that one) to give. */
export function platform() {
  if (isIos()) return "ios";
  if (isAndroid()) return "android";
  return "other";
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

export function keyBytes(base64url) {
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

/** {state, key}: the one true state of notifications on this phone for this patient (see the top). */
export async function state(me) {
  let key = null;
  try {
    key = await publicKey();
  } catch (error) {
    // Without the server nothing can change here; what the phone itself cannot do is still known.
    const local = support();
    if (local !== "ok") return { state: local, key };
    if (permission() === "denied") return { state: "denied", key };
    return { state: "offline", key };
  }
  if (!key) return { state: "unavailable", key };
  const local = support();
  if (local !== "ok") return { state: local, key };
  if (permission() === "denied") return { state: "denied", key };
  const subscription = permission() === "granted" ? await currentSubscription().catch(() => null) : null;
  if (subscription && me.push_enabled) {
    // The phone is subscribed but the server may have lost it (storage cleared): tell it again.
    if (!localStorage.getItem(SUB_KEY)) await register(subscription).catch(() => {});
    return { state: "on", key };
  }
  return { state: "off", key };
}

/** Why turning notifications on failed: "dismissed", "denied", "service", "offline" or "server". */
export class PushError extends Error {
  constructor(reason, detail = "") {
    super(`${reason}${detail ? `: ${detail}` : ""}`);
    this.reason = reason;
    this.detail = detail;
  }
}

async function register(subscription) {
  const { data } = await api("me/push-subscriptions/", { method: "POST", body: subscription.toJSON() });
  if (data && data.id) {
    localStorage.setItem(SUB_KEY, String(data.id));
    await shareWithWorker({ subscription_id: data.id });
  }
}

async function subscribeWith(registration, key) {
  const options = { userVisibleOnly: true, applicationServerKey: keyBytes(key) };
  try {
    return await registration.pushManager.subscribe(options);
  } catch (error) {
    if (error && error.name === "InvalidStateError") {
      // Subscribed earlier with another server key: drop that subscription and try once more.
      const old = await registration.pushManager.getSubscription();
      if (old) await old.unsubscribe();
      return registration.pushManager.subscribe(options);
    }
    throw error;
  }
}

function asPushError(error) {
  if (error instanceof PushError) return error;
  if (isOffline(error)) return new PushError("offline");
  if (error instanceof ApiError) return new PushError("server", String(error.status || ""));
  if (error && error.name === "NotAllowedError") return new PushError(permission() === "denied" ? "denied" : "dismissed");
  return new PushError("service", (error && (error.message || error.name)) || "");
}

/**
 * Ask for permission, subscribe through the service worker, tell the server, and make sure
 * the patient's push preference is on. Resolves to the saved profile; throws PushError.
 */
export async function turnOn(key, me) {
  try {
    const answer = await Notification.requestPermission();
    if (answer === "denied") throw new PushError("denied");
    if (answer !== "granted") throw new PushError("dismissed");
    const registration = await navigator.serviceWorker.ready;
    const subscription = await subscribeWith(registration, key);
    await register(subscription);
    if (me.push_enabled) return me;
    const { data } = await api("me/", { method: "PATCH", body: { push_enabled: true } });
    return data;
  } catch (error) {
    throw asPushError(error);
  }
}

/** Stop notifications on this phone (other phones of the patient keep theirs). */
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

/** Call back when the browser's notification permission changes (e.g. unblocked in its settings). */
export function onPermissionChange(callback) {
  if (!navigator.permissions || !navigator.permissions.query) return;
  navigator.permissions.query({ name: "notifications" })
    .then((status) => { status.onchange = callback; })
    .catch(() => {});
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
