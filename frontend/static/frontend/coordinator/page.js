// What every coordinator page does: its forms call the REST API with the session cookie and
// the CSRF token, and show the API's field errors ({"field": ["message"]}) next to the
// fields they name; its calendar dates are written in the page's language. The words shown
// here come translated from the page (json_script "coordinator-labels").

import { api, ApiError } from "../shared/api.js";
import { shortDate } from "../shared/dates.js";
import { h } from "../shared/dom.js";

const main = document.getElementById("main");
const labelsNode = document.getElementById("coordinator-labels");
export const L = labelsNode ? JSON.parse(labelsNode.textContent) : {};

export function fill(template, values) {
  return template.replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? ""));
}

export function patientUrl(id) {
  return main.dataset.patientUrl.replace(/\/0\/$/, `/${id}/`);
}

export function dateElement(iso) {
  return h("time", { datetime: iso }, shortDate(iso));
}

/** Write a note in the page's notice (role="status"), where the page has one. */
export function announce(message) {
  const node = document.querySelector("[data-announcer]");
  if (node) node.textContent = message;
}

// --- Forms and their errors -------------------------------------------------------------

export function clearErrors(form) {
  for (const node of form.querySelectorAll("[data-error-for]")) {
    node.hidden = true;
    node.textContent = "";
  }
  for (const field of form.querySelectorAll("[aria-invalid]")) {
    field.removeAttribute("aria-invalid");
    const described = (field.getAttribute("aria-describedby") || "").split(" ").filter((id) => !id.endsWith("-error"));
    if (described.length) field.setAttribute("aria-describedby", described.join(" "));
    else field.removeAttribute("aria-describedby");
  }
  const general = form.querySelector("[data-form-error]");
  if (general) {
    general.hidden = true;
    general.textContent = "";
  }
}

function messagesOf(value) {
  if (Array.isArray(value)) return value.map((item) => (typeof item === "string" ? item : JSON.stringify(item)));
  if (value && typeof value === "object") return Object.values(value).flatMap(messagesOf);
  return [String(value)];
}

/** Put each message next to the field it names; anything else goes to the form's alert. Status 0: no answer. */
export function showErrors(form, status, data) {
  clearErrors(form);
  const general = [];
  let firstInvalid = null;
  if (!data || typeof data !== "object" || Array.isArray(data)) {
    general.push(status === 0 ? L.network_error : fill(L.server_error || "Error %(status)s", { status }));
  } else {
    for (const [name, value] of Object.entries(data)) {
      const slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
      const field = form.elements.namedItem(name);
      if (slot && field instanceof Element) {
        slot.textContent = messagesOf(value).join(" ");
        slot.hidden = false;
        const target = field.dataset.timeZone !== undefined && !field.value ? form.elements.namedItem("time_zone_other") : field;
        for (const node of new Set([field, target])) {
          node.setAttribute("aria-invalid", "true");
          const described = (node.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
          node.setAttribute("aria-describedby", [...described, slot.id].join(" "));
        }
        firstInvalid = firstInvalid || target;
      } else {
        general.push(...messagesOf(value));
      }
    }
  }
  const box = form.querySelector("[data-form-error]");
  if (general.length && box) {
    box.textContent = general.join(" ");
    box.hidden = false;
  }
  if (firstInvalid) firstInvalid.focus();
}

/** A refusal from the API (or no answer) is shown on the form; anything else is a bug and is thrown again. */
export function showApiError(form, error) {
  if (!(error instanceof ApiError)) throw error;
  showErrors(form, error.status, error.data);
}

/** Disable the form's buttons while a request runs, so a double click cannot send twice. */
export async function busy(form, work) {
  const buttons = [...form.querySelectorAll("button")];
  const submit = form.querySelector('button[type="submit"]');
  const label = submit ? submit.textContent : "";
  buttons.forEach((b) => (b.disabled = true));
  form.setAttribute("aria-busy", "true");
  if (submit && L.saving) submit.textContent = L.saving;
  try {
    return await work();
  } finally {
    buttons.forEach((b) => (b.disabled = false));
    form.removeAttribute("aria-busy");
    if (submit) submit.textContent = label;
  }
}

// Every submit starts clean: the errors and the note of the last attempt go, so that a
// success never stands next to an earlier failure (or a failure next to an earlier success).
export function run(form, action, options) {
  clearErrors(form);
  announce("");
  return busy(form, () => action(form, options).catch((error) => showApiError(form, error)));
}

/** End every session and API token of the signed-in member of staff, then sign in again. */
async function signOutEverywhere(form) {
  try {
    await api("auth/signout-everywhere/", { method: "POST" });
  } catch (error) {
    // Signed out already: nothing is left to end.
    if (!(error instanceof ApiError && error.signedOut)) throw error;
  }
  window.location.assign(form.dataset.next);
}

/**
 * Set the page up: each form[data-action] runs the action of that name (sign out everywhere,
 * in the header, is on every page), and the calendar dates are written in the page's language.
 */
export function start(actions = {}) {
  const all = { "signout-everywhere": signOutEverywhere, ...actions };
  for (const form of document.querySelectorAll("form[data-action]")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      run(form, all[form.dataset.action]);
    });
  }
  for (const node of document.querySelectorAll("time[data-date]")) {
    node.textContent = shortDate(node.getAttribute("datetime"));
  }
}
