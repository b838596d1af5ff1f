// Signing out of this phone, or of every device: Settings' buttons (the patient's and a
// caregiver's own). Nothing personal is left on the phone afterwards.

import { api, ApiError, isOffline } from "../shared/api.js";
import * as outbox from "./outbox.js";
import { unsubscribe } from "./push.js";

/** The changes not sent and the saved data dropped, then the sign-in screen. */
async function leave() {
  outbox.clear();
  // The saved checklist and the worker's note of the session are personal: leave nothing behind.
  if ("caches" in window) await Promise.all([caches.delete("prep-data"), caches.delete("prep-state")]);
  location.replace("/");
}

export async function signOut() {
  // Free this phone's push subscription first: the next person to sign in here gets it,
  // and the server never hands one patient's phone to another.
  await unsubscribe().catch(() => {});
  await api("auth/signout/", { method: "POST" }).catch(() => {});
  await leave();
}

/** End every session of the patient, on every device; only a failure comes back (as text). */
export async function signOutEverywhere() {
  if (!navigator.onLine) return gettext("You need an internet connection to do this.");
  await unsubscribe().catch(() => {});
  try {
    await api("auth/signout-everywhere/", { method: "POST" });
  } catch (error) {
    if (isOffline(error)) return gettext("You need an internet connection to do this.");
    // Signed out already: nothing is left to end from this phone.
    if (!(error instanceof ApiError && error.signedOut)) return gettext("Something went wrong. Please try again.");
  }
  await leave();
  return "";
}
