// One patient's page: their status and invitation, the facts known about them, the surgery
// (book, move, mark done, cancel), the rules in force and the check-ins (safety.js), the
// checklist and the delivery log of their reminders.

import { api, ApiError } from "../shared/api.js";
import { shortDate, shortDateTime } from "../shared/dates.js";
import { loadChecklist } from "./checklist.js";
import { loadDeliveries } from "./deliveries.js";
import { assignProtocol, bookSurgery, factsPayload, loadProtocols } from "./fields.js";
import { L, announce, busy, fill, showApiError, showErrors, start } from "./page.js";
import { loadSafety } from "./safety.js";

/** What saving the facts did, in a sentence or three. */
function factsSummary(result) {
  if (!result.changed.length) return L.facts_unchanged;
  const titles = (steps) => steps.map((s) => s.title).join(", ");
  const parts = [L.facts_saved];
  if (result.added.length) parts.push(fill(L.facts_added, { steps: titles(result.added) }));
  if (result.removed.length) parts.push(fill(L.facts_removed, { steps: titles(result.removed) }));
  if (result.kept.length) parts.push(fill(L.facts_kept, { steps: titles(result.kept) }));
  if (!result.added.length && !result.removed.length) parts.push(L.facts_same_steps);
  if (result.message) parts.push(L.facts_messaged);
  return parts.join(" ");
}

function reschedulePayload(form) {
  const value = (name) => form.elements.namedItem(name).value.trim();
  return { surgery_date: value("surgery_date"), surgery_time: value("surgery_time") || null };
}

const post = (path, body) => api(path, { method: "POST", body });

const actions = {
  // A new surgery, or its checklist, changes much of the page: it is drawn again.
  async book(form) {
    await bookSurgery(form);
    window.location.reload();
  },

  async assign(form) {
    await assignProtocol(form);
    window.location.reload();
  },

  /** A fresh invitation code: shown here once (the server keeps only its hash). */
  async "issue-invitation"(form) {
    const { data: issued } = await post(`patients/${form.dataset.patientId}/invitation/`);
    const box = document.querySelector("[data-issued-invitation]");
    box.querySelector("[data-invitation-code]").textContent = issued.invitation_code;
    const link = box.querySelector("[data-join-link]");
    link.href = issued.join_url;
    link.textContent = issued.join_url;
    box.querySelector("[data-invitation-expires]").textContent = shortDateTime(issued.expires_at);
    box.hidden = false;
    const state = document.querySelector("[data-invitation-state]");
    state.textContent = fill(state.dataset.issuedText, { date: shortDateTime(issued.expires_at) });
    box.focus();
  },

  /** A fresh code by email: the server sends it and keeps only its hash; this page never shows it. */
  async "email-invitation"(form) {
    let sent;
    try {
      sent = (await post(`patients/${form.dataset.patientId}/invitation/email/`)).data;
    } catch (error) {
      if (error instanceof ApiError && error.status === 429) return showErrors(form, 429, { detail: [L.too_many_emails] });
      throw error;
    }
    const state = document.querySelector("[data-invitation-state]");
    state.textContent = fill(state.dataset.issuedText, { date: shortDateTime(sent.expires_at) });
    document.querySelector("[data-issued-invitation]").hidden = true; // an earlier code shown here no longer works
    announce(fill(L.invitation_emailed, { email: sent.sent_to, date: shortDateTime(sent.expires_at) }));
  },

  /** Invite a caregiver by email, with the patient's consent noted; the page lists them after. */
  async "invite-caregiver"(form) {
    const field = (name) => form.elements.namedItem(name);
    await post(`patients/${form.dataset.patientId}/caregivers/`, {
      name: field("name").value.trim(),
      relationship: field("relationship").value.trim(),
      email: field("email").value.trim(),
      language: field("language").value,
      access: form.querySelector('[name="access"]:checked').value,
      gets_reminders: field("gets_reminders").checked,
      sees_health_facts: field("sees_health_facts").checked,
      consent_note: field("consent_note").value.trim(),
    });
    window.location.reload();
  },

  /** Discharge, archive or make active again; the page is drawn again with the new status. */
  async "set-status"(form) {
    const chosen = form.querySelector('[name="status"]:checked') || form.querySelector('[name="status"]');
    const reason = form.elements.namedItem("reason");
    await post(`patients/${form.dataset.patientId}/${chosen.value}/`, reason ? { reason: reason.value.trim() } : {});
    window.location.reload();
  },

  /** Save what is known about the patient: the checklist is re-tailored at once. */
  async facts(form) {
    const { data } = await api(`patients/${form.dataset.patientId}/facts/`, { method: "PATCH", body: factsPayload(form) });
    await loadChecklist();
    announce(factsSummary(data));
  },

  /** The operation has taken place: the patient's app turns to the recovery. */
  async complete(form) {
    await post(`cases/${form.dataset.caseId}/complete/`);
    window.location.reload();
  },

  /** The approach and level: the patient's "About your surgery" opens with that approach's page. */
  async describe(form) {
    const value = (name) => form.elements.namedItem(name).value.trim();
    const { data: surgery } = await post(`cases/${form.dataset.caseId}/describe/`, { approach: value("approach"), level: value("level") });
    const box = document.querySelector("[data-case]");
    const select = form.elements.namedItem("approach");
    const label = surgery.approach ? select.querySelector(`option[value="${surgery.approach}"]`).textContent : "";
    box.querySelector('[data-field="approach"]').textContent = label || "—";
    box.querySelector('[data-field="level"]').textContent = surgery.level || "—";
    form.elements.namedItem("level").value = surgery.level;
    const operation = [label, surgery.level].filter(Boolean).join(" · ");
    announce(operation ? fill(L.described, { operation }) : L.described_none);
  },

  async reschedule(form) {
    const { data: surgery } = await post(`cases/${form.dataset.caseId}/reschedule/`, reschedulePayload(form));
    const box = document.querySelector("[data-case]");
    for (const date of document.querySelectorAll('[data-field="surgery_date"]')) {
      date.setAttribute("datetime", surgery.surgery_date);
      date.textContent = shortDate(surgery.surgery_date);
    }
    box.querySelector('[data-field="surgery_time"]').textContent = surgery.surgery_time ? surgery.surgery_time.slice(0, 5) : "—";
    const days = box.querySelector('[data-field="days_to_surgery"]');
    if (days) days.textContent = surgery.days_to_surgery;
    await loadChecklist();
    announce(fill(L.moved, { date: shortDate(surgery.surgery_date) }));
  },
};

start(actions);

// Cancel with a confirmation: the dialog's "Keep it" only closes it.
const dialog = document.getElementById("cancel-dialog");
const openCancel = document.querySelector("[data-open-cancel]");
if (dialog && openCancel) {
  openCancel.addEventListener("click", () => dialog.showModal());
  const form = dialog.querySelector("[data-cancel-form]");
  form.addEventListener("submit", (event) => {
    if (event.submitter?.value !== "confirm") return;
    event.preventDefault();
    busy(form, async () => {
      try {
        await post(`cases/${form.dataset.caseId}/cancel/`);
      } catch (error) {
        return showApiError(form, error);
      }
      window.location.reload();
    });
  });
}

loadProtocols();
loadChecklist();
loadDeliveries();
loadSafety();
