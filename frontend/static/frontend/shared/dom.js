// Building DOM nodes without innerHTML, so nothing from the server is ever parsed as markup.

/** The page's language, as the server drew it. */
export const lang = document.documentElement.lang || "en";

/** h("a", {href: "/", class: "x", onclick: fn}, "text", child) -> Element */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    // Form state is a property: a textarea's "value" attribute would not show.
    else if (name === "value" || name === "checked" || name === "selected") el[name] = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace an element's content. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** Say something to screen readers through the page's polite live region (#announcer). */
export function announce(text) {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  // A fresh text node after a tick is announced even when it repeats the last message.
  setTimeout(() => { region.textContent = text; }, 60);
}
