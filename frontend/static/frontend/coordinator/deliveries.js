// The delivery log on a patient's page: every attempt to send them a reminder, newest first,
// a page at a time, with what the patient opened.

import { api } from "../shared/api.js";
import { shortDateTime } from "../shared/dates.js";
import { h } from "../shared/dom.js";
import { L, fill } from "./page.js";

function deliveryRow(item) {
  const reminder = item.reminder || {};
  const failed = item.outcome === "failed";
  const outcome = L.outcomes[item.outcome] || item.outcome;
  return h(
    "tr",
    { "data-outcome": item.outcome },
    h("td", {}, shortDateTime(item.at)),
    h("td", {}, L.channels[item.channel] || item.channel),
    h("td", {}, reminder.task_title || "—"),
    h(
      "td",
      {},
      failed ? h("span", { class: "badge badge--warning" }, outcome) : outcome,
      // Sent after an earlier attempt was lost with its worker: the patient may have it twice.
      item.possible_duplicate
        ? [" ", h("span", { class: "badge badge--outline", "data-possible-duplicate": "" }, L.possible_duplicate || "possibly sent twice")]
        : null,
      // The read receipt: when the patient opened the message (notification, email link or inbox).
      item.outcome === "sent" && reminder.read_at
        ? [" ", h("span", { class: "badge badge--muted", "data-read-at": reminder.read_at },
          fill(L.opened || "opened %(when)s", { when: shortDateTime(reminder.read_at) }))]
        : null,
    ),
    h("td", {}, item.detail || ""),
  );
}

/** The first page of the log, or (with the API's link to it) the next one, added below. */
export async function loadDeliveries(path) {
  const box = document.querySelector("[data-deliveries]");
  if (!box) return;
  const more = !!path;
  let data = null;
  let failure = null;
  try {
    data = (await api(path || `patients/${box.dataset.patientId}/deliveries/`)).data;
  } catch (error) {
    failure = error;
  }
  box.removeAttribute("aria-busy");
  if (!more) box.replaceChildren();
  box.querySelector("[data-more]")?.remove();
  // The endpoint came with the reminder engine; a server without it says so instead of failing.
  if (failure && failure.status === 404) return box.append(h("p", { class: "muted" }, L.deliveries_unavailable));
  if (failure) return box.append(h("p", { class: "form-error" }, L.deliveries_error));
  const items = Array.isArray(data) ? data : data.results || [];
  if (!more && data.reminders) {
    const counts = Object.entries(data.reminders).filter(([, n]) => n);
    if (counts.length) {
      box.append(
        h("p", { class: "reminder-counts" }, `${L.reminders_summary} `,
          counts.map(([status, n], i) => [
            i ? ", " : "",
            h("span", { class: status === "failed" ? "badge badge--warning" : "", "data-status": status }, `${L.reminder_statuses[status] || status} ${n}`),
          ])),
      );
    }
  }
  if (!more && !items.length) return box.append(h("p", { class: "muted" }, L.deliveries_empty));
  let body = box.querySelector("table.deliveries tbody");
  if (!body) {
    const head = h("tr", {}, [L.when, L.channel, L.task, L.outcome, L.detail].map((text) => h("th", { scope: "col" }, text)));
    body = h("tbody");
    box.append(h("table", { class: "deliveries" }, h("thead", {}, head), body));
  }
  body.append(...items.map(deliveryRow));
  if (data.next) {
    const button = h("button", { type: "button", class: "button", "data-more": true, onclick: () => loadDeliveries(data.next) }, L.show_more);
    box.append(button);
  }
}
