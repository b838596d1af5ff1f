// The enrol page: the patient's details, then the surgery, then the protocol, then the
// invitation to the app, one step after the other on the same page.

import { api, ApiError } from "../shared/api.js";
import { shortDate, shortDateTime } from "../shared/dates.js";
import { h } from "../shared/dom.js";
import { assignProtocol, bookSurgery, factsPayload, loadProtocols } from "./fields.js";
import { L, clearErrors, fill, patientUrl, run, start } from "./page.js";

function enrolPayload(form) {
  const value = (name) => form.elements.namedItem(name).value.trim();
  const payload = {
    full_name: value("full_name"),
    contact_email: value("contact_email"),
    time_zone: value("time_zone") || value("time_zone_other"),
    language: value("language"),
  };
  if (value("weight_kg")) payload.weight_kg = value("weight_kg");
  if (value("date_of_birth")) payload.date_of_birth = value("date_of_birth");
  // A fact left "not known yet" is not sent: a new patient starts with every fact not known.
  for (const [fact, known] of Object.entries(factsPayload(form))) {
    if (known !== null) payload[fact] = known;
  }
  return payload;
}

/** Mark one step done and open the next. */
function advance(fromId, toId, doneText) {
  const from = document.getElementById(fromId);
  const form = from.querySelector("form");
  if (form) {
    clearErrors(form);
    form.hidden = true;
  }
  const note = from.querySelector("[data-step-done]");
  if (note) {
    note.textContent = doneText;
    note.hidden = false;
  }
  const to = document.getElementById(toId);
  to.hidden = false;
  for (const marker of document.querySelectorAll("[data-step-marker]")) {
    marker.removeAttribute("aria-current");
    if (`step-${marker.dataset.stepMarker}` === toId) marker.setAttribute("aria-current", "step");
  }
  const heading = to.querySelector("h2");
  if (heading) heading.focus();
}

/** The records that may be this patient already (a 409 from enrolment), each linked, with what matches. */
function showDuplicates(form, duplicates) {
  const box = form.querySelector("[data-duplicates]");
  const list = box.querySelector("[data-duplicate-list]");
  list.replaceChildren(
    ...duplicates.map((d) => {
      const facts = [
        d.contact_email || null,
        d.date_of_birth ? fill(L.duplicate_born, { date: shortDate(d.date_of_birth) }) : null,
        fill(L.duplicate_enrolled, { date: shortDateTime(d.created_at) }),
        d.same_email ? L.duplicate_same_email : null,
        d.same_date_of_birth ? L.duplicate_same_birth : null,
      ].filter(Boolean);
      const status = d.status !== "active" ? h("span", { class: "badge badge--outline" }, L.patient_statuses[d.status] || d.status) : null;
      return h("li", { "data-duplicate-id": d.id }, h("a", { href: patientUrl(d.id) }, d.full_name), " ", status, ` · ${facts.join(" · ")}`);
    }),
  );
  box.hidden = false;
  box.focus();
}

function hideDuplicates(form) {
  const box = form.querySelector("[data-duplicates]");
  if (box) box.hidden = true;
}

const actions = {
  async enrol(form, { confirmDuplicate = false } = {}) {
    const body = enrolPayload(form);
    if (confirmDuplicate) body.confirm_duplicate = true;
    let patient;
    try {
      patient = (await api("patients/", { method: "POST", body })).data;
    } catch (error) {
      const duplicates = error instanceof ApiError && error.status === 409 && error.data && error.data.duplicates;
      if (Array.isArray(duplicates)) return showDuplicates(form, duplicates);
      throw error;
    }
    hideDuplicates(form);
    document.getElementById("book-form").dataset.patientId = patient.id;
    // The code after "#", which browsers never send: no server or proxy log holds it.
    const link = `${new URL("/join/", window.location.origin).href}#${patient.invitation_code}`;
    const joinLink = document.querySelector("#step-invitation [data-join-link]");
    joinLink.href = link;
    joinLink.textContent = link;
    document.querySelector("#step-invitation [data-invitation-code]").textContent = patient.invitation_code;
    document.querySelector("#step-invitation [data-patient-link]").href = patientUrl(patient.id);
    advance("step-patient", "step-surgery", `${patient.full_name} · ${patient.time_zone}`);
  },

  async book(form) {
    const surgery = await bookSurgery(form);
    document.getElementById("assign-form").dataset.caseId = surgery.id;
    const when = surgery.surgery_time ? ` ${surgery.surgery_time.slice(0, 5)}` : "";
    advance("step-surgery", "step-protocol", `${surgery.procedure} · ${shortDate(surgery.surgery_date)}${when}`);
  },

  async assign(form) {
    const checklist = await assignProtocol(form);
    const summary = `${checklist.protocol.name} · ${fill(L.task_count, { count: checklist.counts.total })}`;
    advance("step-protocol", "step-invitation", summary);
  },
};

start(actions);

// Possible duplicates: "Enrol anyway" sends the same details again, confirmed; changing any
// detail withdraws the warning (the next enrolment is checked again).
for (const form of document.querySelectorAll('form[data-action="enrol"]')) {
  const anyway = form.querySelector("[data-enrol-anyway]");
  if (anyway) anyway.addEventListener("click", () => run(form, actions.enrol, { confirmDuplicate: true }));
  form.addEventListener("input", () => hideDuplicates(form));
}

// The time zone select: the last option lets the coordinator type any IANA zone name.
for (const select of document.querySelectorAll("select[data-time-zone]")) {
  const other = select.form.querySelector("[data-time-zone-other]");
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if ([...select.options].some((option) => option.value === browserZone)) select.value = browserZone;
  const sync = () => {
    other.hidden = select.value !== "";
    if (!other.hidden) other.querySelector("input").focus();
  };
  select.addEventListener("change", sync);
}

loadProtocols();
