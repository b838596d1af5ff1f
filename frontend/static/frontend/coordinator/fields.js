// What the enrol page and a patient's page both ask: the facts known about the patient,
// the surgery to book and the protocol to assign.

import { api } from "../shared/api.js";
import { h } from "../shared/dom.js";
import { L, fill } from "./page.js";

/** The form's fact selects as the API takes them: true (yes), false (no) or null (not known yet). */
export function factsPayload(form) {
  const facts = {};
  for (const select of form.querySelectorAll("select[data-fact]")) {
    facts[select.name] = select.value === "yes" ? true : select.value === "no" ? false : null;
  }
  return facts;
}

/** Book the surgery the form describes; resolves to the new surgery. */
export async function bookSurgery(form) {
  const value = (name) => form.elements.namedItem(name).value.trim();
  const body = {
    patient: Number(form.dataset.patientId),
    procedure: value("procedure"),
    surgeon: value("surgeon"),
    surgery_date: value("surgery_date"),
    surgery_time: value("surgery_time") || null,
  };
  return (await api("cases/", { method: "POST", body })).data;
}

/** Give the surgery the checklist of the chosen protocol; resolves to the new checklist. */
export async function assignProtocol(form) {
  const protocol = form.elements.namedItem("protocol").value;
  return (await api(`cases/${form.dataset.caseId}/assign/`, { method: "POST", body: { protocol } })).data;
}

/** The protocols for the assign form's choice, and their procedures as suggestions in the book form. */
export async function loadProtocols() {
  const select = document.querySelector("select[data-protocols]");
  const procedures = document.getElementById("procedure-choices");
  if (!select && !procedures) return;
  let protocols = [];
  let loaded = true;
  try {
    const { data } = await api("protocols/");
    protocols = Array.isArray(data) ? data : data.results || [];
  } catch {
    loaded = false;
  }
  if (procedures) {
    for (const protocol of protocols) procedures.append(h("option", { value: protocol.procedure }));
  }
  if (!select) return;
  select.replaceChildren();
  if (!protocols.length) {
    select.append(h("option", { value: "" }, loaded ? L.protocol_none : L.network_error));
    return;
  }
  for (const protocol of protocols) {
    // The version a new checklist gets: the newest published one (drafts are still being edited).
    const published = protocol.versions.filter((v) => v.published_at);
    const latest = published.reduce((a, b) => (b.number > (a ? a.number : 0) ? b : a), null);
    const detail = latest ? ` (v${latest.number}, ${fill(L.task_count, { count: latest.task_count })})` : "";
    select.append(h("option", { value: protocol.key }, `${protocol.name}${detail}`));
  }
}
