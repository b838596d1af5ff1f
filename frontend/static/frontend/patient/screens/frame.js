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

const SVG = "http://www.w3.org/2000/svg";
const PHONE_ICON = "M6.6 10.8a15 15 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25 11.4 11.4 0 0 0 3.6.57 1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1z";

/**
 * After the surgery every screen has "When to call" in its header; before it, the home
 * screen links to the page instead.
 */
export function showCallButton(visible) {
  let button = document.getElementById("call-top");
  if (!button && visible) {
    const icon = document.createElementNS(SVG, "svg");
    icon.setAttribute("viewBox", "0 0 24 24");
    icon.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", PHONE_ICON);
    icon.append(path);
    button = h("a", { id: "call-top", class: "call-top", href: "/when-to-call/", "data-link": true }, icon, gettext("When to call"));
    document.querySelector(".top").append(button);
  }
  if (button) button.hidden = !visible;
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
