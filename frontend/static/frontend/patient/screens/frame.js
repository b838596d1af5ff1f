// What every screen is drawn in: <main>, the window title, the heading that takes focus,
// and the few pieces all screens use. A screen takes the app context and draws into <main>;
// none keeps state of its own.

import { h, mount } from "../../shared/dom.js";

export const main = () => document.getElementById("main");

// The app's name in its header and in the window title follows the journey: getting ready
// before the surgery, recovering after it.
let appName = () => gettext("Getting ready for surgery");

/** Name the app for the phase the patient is in ("preparation" or "recovery"). */
export function showPhase(phase) {
  appName = phase === "recovery" ? () => gettext("Recovering from surgery") : () => gettext("Getting ready for surgery");
  const brand = document.querySelector(".brand");
  if (brand) brand.textContent = appName();
}

export function screen(title, ...children) {
  document.title = `${title} · ${appName()}`;
  mount(main(), ...children);
}

export function heading(text, level = "h1") {
  // Focus moves to the new screen's heading so screen readers start reading there.
  return h(level, { tabindex: "-1", class: level === "h1" ? "screen-title" : "" }, text);
}

export function focusHeading() {
  const title = main().querySelector(".screen-title");
  if (title) title.focus({ preventScroll: true });
}

export function message(text, kind = "info") {
  return h("p", { class: `notice notice-${kind}` }, text);
}

export function link(href, text, attrs = {}) {
  return h("a", { href, "data-link": true, ...attrs }, text);
}
