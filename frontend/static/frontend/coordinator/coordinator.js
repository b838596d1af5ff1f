// Coordinator pages: the forms call the REST API with the session cookie and the CSRF token,
// and show the API's field errors ({"field": ["message"]}) next to the fields they name.
// The words shown here come translated from the page (json_script "coordinator-labels").

const main = document.getElementById("main");
const API = main.dataset.apiRoot; // "/api/v1/"
const labelsNode = document.getElementById("coordinator-labels");
const L = labelsNode ? JSON.parse(labelsNode.textContent) : {};
const LANG = document.documentElement.lang || "en";

function fill(template, values) {
  return template.replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? ""));
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** Call the API; resolves to {ok, status, data}. A network failure is reported as status 0. */
async function api(method, path, body) {
  const options = {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
  };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(/^https?:/.test(path) ? path : API + path, options);
  } catch (error) {
    return { ok: false, status: 0, data: { detail: L.network_error } };
  }
  let data = null;
  try {
    data = await response.json();
  } catch (error) {
    data = null;
  }
  return { ok: response.ok, status: response.status, data };
}

// --- Dates ------------------------------------------------------------------------------

// Calendar dates (YYYY-MM-DD) are the patient's dates: format them without any time zone shift.
const dateFormat = new Intl.DateTimeFormat(LANG, { year: "numeric", month: "short", day: "numeric", timeZone: "UTC" });
const instantFormat = new Intl.DateTimeFormat(LANG, { dateStyle: "medium", timeStyle: "short" });

function formatDate(iso) {
  if (!iso) return "—";
  const date = new Date(`${iso}T00:00:00Z`);
  return Number.isNaN(date.getTime()) ? iso : dateFormat.format(date);
}

function formatInstant(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : instantFormat.format(date);
}

function formatDates(root = document) {
  for (const node of root.querySelectorAll("time[data-date]")) {
    node.textContent = formatDate(node.getAttribute("datetime"));
  }
}

// --- Elements ---------------------------------------------------------------------------

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "className") node.className = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function dateElement(iso) {
  return el("time", { datetime: iso, text: formatDate(iso) });
}

// --- Forms and their errors -------------------------------------------------------------

function clearErrors(form) {
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

/** Put each message next to the field it names; anything else goes to the form's alert. */
function showErrors(form, status, data) {
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

/** Disable the form's buttons while a request runs, so a double click cannot send twice. */
async function busy(form, work) {
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

function announce(message) {
  const node = document.querySelector("[data-announcer]");
  if (node) node.textContent = message;
}

function patientUrl(id) {
  return main.dataset.patientUrl.replace(/\/0\/$/, `/${id}/`);
}

// --- Enrol, book, assign ----------------------------------------------------------------

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

/** The form's fact selects as the API takes them: true (yes), false (no) or null (not known yet). */
function factsPayload(form) {
  const facts = {};
  for (const select of form.querySelectorAll("select[data-fact]")) {
    facts[select.name] = select.value === "yes" ? true : select.value === "no" ? false : null;
  }
  return facts;
}

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

function bookPayload(form) {
  const value = (name) => form.elements.namedItem(name).value.trim();
  return {
    patient: Number(form.dataset.patientId),
    procedure: value("procedure"),
    surgeon: value("surgeon"),
    surgery_date: value("surgery_date"),
    surgery_time: value("surgery_time") || null,
  };
}

function reschedulePayload(form) {
  const value = (name) => form.elements.namedItem(name).value.trim();
  return { surgery_date: value("surgery_date"), surgery_time: value("surgery_time") || null };
}

/** On the enrol page, mark one step done and open the next. */
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

const onEnrolPage = () => Boolean(document.getElementById("step-patient"));

/** The records that may be this patient already (a 409 from enrolment), each linked, with what matches. */
function showDuplicates(form, duplicates) {
  const box = form.querySelector("[data-duplicates]");
  const list = box.querySelector("[data-duplicate-list]");
  list.replaceChildren(
    ...duplicates.map((d) => {
      const facts = [
        d.contact_email || null,
        d.date_of_birth ? fill(L.duplicate_born, { date: formatDate(d.date_of_birth) }) : null,
        fill(L.duplicate_enrolled, { date: formatInstant(d.created_at) }),
        d.same_email ? L.duplicate_same_email : null,
        d.same_date_of_birth ? L.duplicate_same_birth : null,
      ].filter(Boolean);
      const status = d.status !== "active" ? el("span", { className: "badge badge--outline", text: L.patient_statuses[d.status] || d.status }) : null;
      return el("li", { "data-duplicate-id": d.id }, el("a", { href: patientUrl(d.id), text: d.full_name }), " ", status, ` · ${facts.join(" · ")}`);
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
    const payload = enrolPayload(form);
    if (confirmDuplicate) payload.confirm_duplicate = true;
    const result = await api("POST", "patients/", payload);
    if (result.status === 409 && result.data && Array.isArray(result.data.duplicates)) {
      return showDuplicates(form, result.data.duplicates);
    }
    if (!result.ok) return showErrors(form, result.status, result.data);
    hideDuplicates(form);
    const patient = result.data;
    document.getElementById("book-form").dataset.patientId = patient.id;
    const link = new URL(`/join/${patient.invitation_code}`, window.location.origin).href;
    const joinLink = document.querySelector("#step-invitation [data-join-link]");
    joinLink.href = link;
    joinLink.textContent = link;
    document.querySelector("#step-invitation [data-invitation-code]").textContent = patient.invitation_code;
    document.querySelector("#step-invitation [data-patient-link]").href = patientUrl(patient.id);
    advance("step-patient", "step-surgery", `${patient.full_name} · ${patient.time_zone}`);
  },

  async book(form) {
    const result = await api("POST", "cases/", bookPayload(form));
    if (!result.ok) return showErrors(form, result.status, result.data);
    const surgery = result.data;
    if (!onEnrolPage()) return window.location.reload();
    document.getElementById("assign-form").dataset.caseId = surgery.id;
    const when = surgery.surgery_time ? ` ${surgery.surgery_time.slice(0, 5)}` : "";
    advance("step-surgery", "step-protocol", `${surgery.procedure} · ${formatDate(surgery.surgery_date)}${when}`);
  },

  async assign(form) {
    const protocol = form.elements.namedItem("protocol").value;
    const result = await api("POST", `cases/${form.dataset.caseId}/assign/`, { protocol });
    if (!result.ok) return showErrors(form, result.status, result.data);
    if (!onEnrolPage()) return window.location.reload();
    const checklist = result.data;
    const summary = `${checklist.protocol.name} · ${fill(L.task_count, { count: checklist.counts.total })}`;
    advance("step-protocol", "step-invitation", summary);
  },

  /** A fresh invitation code: shown here once (the server keeps only its hash). */
  async "issue-invitation"(form) {
    const result = await api("POST", `patients/${form.dataset.patientId}/invitation/`);
    if (!result.ok) return showErrors(form, result.status, result.data);
    const issued = result.data;
    const box = document.querySelector("[data-issued-invitation]");
    box.querySelector("[data-invitation-code]").textContent = issued.invitation_code;
    const link = box.querySelector("[data-join-link]");
    link.href = issued.join_url;
    link.textContent = issued.join_url;
    box.querySelector("[data-invitation-expires]").textContent = formatInstant(issued.expires_at);
    box.hidden = false;
    const state = document.querySelector("[data-invitation-state]");
    state.textContent = fill(state.dataset.issuedText, { date: formatInstant(issued.expires_at) });
    box.focus();
  },

  /** A fresh code by email: the server sends it and keeps only its hash; this page never shows it. */
  async "email-invitation"(form) {
    const result = await api("POST", `patients/${form.dataset.patientId}/invitation/email/`);
    if (result.status === 429) return showErrors(form, 429, { detail: [L.too_many_emails] });
    if (!result.ok) return showErrors(form, result.status, result.data);
    const sent = result.data;
    const state = document.querySelector("[data-invitation-state]");
    state.textContent = fill(state.dataset.issuedText, { date: formatInstant(sent.expires_at) });
    document.querySelector("[data-issued-invitation]").hidden = true; // an earlier code shown here no longer works
    announce(fill(L.invitation_emailed, { email: sent.sent_to, date: formatInstant(sent.expires_at) }));
  },

  /** Discharge, archive or make active again; the page is drawn again with the new status. */
  async "set-status"(form) {
    const chosen = form.querySelector('[name="status"]:checked') || form.querySelector('[name="status"]');
    const reason = form.elements.namedItem("reason");
    const body = reason ? { reason: reason.value.trim() } : {};
    const result = await api("POST", `patients/${form.dataset.patientId}/${chosen.value}/`, body);
    if (!result.ok) return showErrors(form, result.status, result.data);
    window.location.reload();
  },

  /** End every session and API token of the signed-in member of staff, then sign in again. */
  async "signout-everywhere"(form) {
    const result = await api("POST", "auth/signout-everywhere/");
    if (!result.ok && result.status !== 401 && result.status !== 403) return showErrors(form, result.status, result.data);
    window.location.assign(form.dataset.next);
  },

  /** Save what is known about the patient: the checklist is re-tailored at once. */
  async facts(form) {
    const result = await api("PATCH", `patients/${form.dataset.patientId}/facts/`, factsPayload(form));
    if (!result.ok) return showErrors(form, result.status, result.data);
    await loadChecklist();
    announce(factsSummary(result.data));
  },

  /** The operation has taken place: the patient's app turns to the recovery. */
  async complete(form) {
    const result = await api("POST", `cases/${form.dataset.caseId}/complete/`);
    if (!result.ok) return showErrors(form, result.status, result.data);
    window.location.reload();
  },

  async reschedule(form) {
    const result = await api("POST", `cases/${form.dataset.caseId}/reschedule/`, reschedulePayload(form));
    if (!result.ok) return showErrors(form, result.status, result.data);
    const surgery = result.data;
    const box = document.querySelector("[data-case]");
    for (const date of document.querySelectorAll('[data-field="surgery_date"]')) {
      date.setAttribute("datetime", surgery.surgery_date);
      date.textContent = formatDate(surgery.surgery_date);
    }
    box.querySelector('[data-field="surgery_time"]').textContent = surgery.surgery_time ? surgery.surgery_time.slice(0, 5) : "—";
    const days = box.querySelector('[data-field="days_to_surgery"]');
    if (days) days.textContent = surgery.days_to_surgery;
    await loadChecklist();
    announce(fill(L.moved, { date: formatDate(surgery.surgery_date) }));
  },
};

// Every submit starts clean: the errors and the note of the last attempt go, so that a
// success never stands next to an earlier failure (or a failure next to an earlier success).
function run(form, options) {
  clearErrors(form);
  announce("");
  return busy(form, () => actions[form.dataset.action](form, options));
}

for (const form of document.querySelectorAll("form[data-action]")) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(form);
  });
}

// Possible duplicates: "Enrol anyway" sends the same details again, confirmed; changing any
// detail withdraws the warning (the next enrolment is checked again).
for (const form of document.querySelectorAll('form[data-action="enrol"]')) {
  const anyway = form.querySelector("[data-enrol-anyway]");
  if (anyway) anyway.addEventListener("click", () => run(form, { confirmDuplicate: true }));
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

// --- Protocols for the assign form ------------------------------------------------------

async function loadProtocols() {
  const select = document.querySelector("select[data-protocols]");
  const procedures = document.getElementById("procedure-choices");
  if (!select && !procedures) return;
  const result = await api("GET", "protocols/");
  const protocols = result.ok ? (Array.isArray(result.data) ? result.data : result.data.results || []) : [];
  if (procedures) {
    for (const protocol of protocols) procedures.append(el("option", { value: protocol.procedure }));
  }
  if (!select) return;
  select.replaceChildren();
  if (!protocols.length) {
    select.append(el("option", { value: "", text: result.ok ? L.protocol_none : L.network_error }));
    return;
  }
  for (const protocol of protocols) {
    // The version a new checklist gets: the newest published one (drafts are still being edited).
    const published = protocol.versions.filter((v) => v.published_at);
    const latest = published.reduce((a, b) => (b.number > (a ? a.number : 0) ? b : a), null);
    const detail = latest ? ` (v${latest.number}, ${fill(L.task_count, { count: latest.task_count })})` : "";
    select.append(el("option", { value: protocol.key, text: `${protocol.name}${detail}` }));
  }
}

// --- Cancel with a confirmation -----------------------------------------------------------

const dialog = document.getElementById("cancel-dialog");
const openCancel = document.querySelector("[data-open-cancel]");
if (dialog && openCancel) {
  openCancel.addEventListener("click", () => dialog.showModal());
  const form = dialog.querySelector("[data-cancel-form]");
  form.addEventListener("submit", (event) => {
    if (event.submitter?.value !== "confirm") return; // "Keep it" closes the dialog
    event.preventDefault();
    busy(form, async () => {
      const result = await api("POST", `cases/${form.dataset.caseId}/cancel/`);
      if (!result.ok) return showErrors(form, result.status, result.data);
      window.location.reload();
    });
  });
}

// --- The checklist, grouped -------------------------------------------------------------

function taskRow(task) {
  const due = el("td", {}, dateElement(task.due_date));
  if (task.window_start && task.window_end) {
    due.append(el("span", { className: "meta" }, `${L.window}: `, dateElement(task.window_start), " – ", dateElement(task.window_end)));
  }
  const state = el("td", {}, L.status[task.status] || task.status);
  if (task.late) state.append(" ", el("span", { className: "badge badge--outline", text: L.late }));
  const title = el("th", { scope: "row" }, task.title);
  if (task.conditional) {
    // On the list because a fact it depends on is not known yet.
    const facts = (task.conditional_on || []).map((c) => (L.fact_labels || {})[c.fact] || c.fact).join(", ");
    title.append(" ", el("span", {
      className: "badge badge--outline", "data-conditional": "", title: fill(L.conditional_hint, { facts }), text: L.conditional,
    }));
  }
  if (task.not_enough_time) {
    state.append(" ", el("span", { className: "badge badge--danger", "data-not-enough-time": "", text: L.not_enough_time }));
  }
  return el(
    "tr",
    { "data-task-key": task.key, "data-task-id": task.id },
    title,
    el("td", {}, task.category_label),
    due,
    state,
  );
}

async function loadChecklist() {
  const box = document.querySelector("[data-checklist]");
  if (!box) return;
  box.setAttribute("aria-busy", "true");
  const result = await api("GET", `cases/${box.dataset.caseId}/checklist/`);
  box.replaceChildren();
  box.removeAttribute("aria-busy");
  if (result.status === 404) return box.append(el("p", { text: L.no_checklist }));
  if (!result.ok) return box.append(el("p", { className: "form-error", text: L.checklist_error }));
  const checklist = result.data;
  for (const [name, label] of Object.entries(L.groups)) {
    const tasks = checklist.groups[name] || [];
    const id = `group-${name}`;
    const heading = el("h3", { id }, `${label} `, el("span", { className: `badge ${name === "overdue" && tasks.length ? "badge--danger" : "badge--muted"}`, text: tasks.length }));
    const section = el("section", { className: "task-group", "data-group": name, "aria-labelledby": id }, heading);
    if (!tasks.length) {
      section.append(el("p", { className: "muted", text: L.no_tasks }));
    } else {
      const head = el("tr", {}, ...[L.task, L.category, L.due, L.state].map((text) => el("th", { scope: "col", text })));
      section.append(el("table", { className: "tasks" }, el("thead", {}, head), el("tbody", {}, ...tasks.map(taskRow))));
    }
    box.append(section);
  }
}

// --- The delivery log ---------------------------------------------------------------------

function deliveryRow(item) {
  const reminder = item.reminder || {};
  const failed = item.outcome === "failed";
  const outcome = L.outcomes[item.outcome] || item.outcome;
  return el(
    "tr",
    { "data-outcome": item.outcome },
    el("td", {}, formatInstant(item.at)),
    el("td", {}, L.channels[item.channel] || item.channel),
    el("td", {}, reminder.task_title || "—"),
    el(
      "td",
      {},
      failed ? el("span", { className: "badge badge--warning", text: outcome }) : outcome,
      // Sent after an earlier attempt was lost with its worker: the patient may have it twice.
      ...(item.possible_duplicate
        ? [" ", el("span", { className: "badge badge--outline", "data-possible-duplicate": "", text: L.possible_duplicate || "possibly sent twice" })]
        : []),
      // The read receipt: when the patient opened the message (notification, email link or inbox).
      ...(item.outcome === "sent" && reminder.read_at
        ? [" ", el("span", { className: "badge badge--muted", "data-read-at": reminder.read_at, text: fill(L.opened || "opened %(when)s", { when: formatInstant(reminder.read_at) }) })]
        : []),
    ),
    el("td", {}, item.detail || ""),
  );
}

async function loadDeliveries(path) {
  const box = document.querySelector("[data-deliveries]");
  if (!box) return;
  const more = !!path;
  const result = await api("GET", path || `patients/${box.dataset.patientId}/deliveries/`);
  box.removeAttribute("aria-busy");
  if (!more) box.replaceChildren();
  box.querySelector("[data-more]")?.remove();
  // The endpoint came with the reminder engine; a server without it says so instead of failing.
  if (result.status === 404) return box.append(el("p", { className: "muted", text: L.deliveries_unavailable }));
  if (!result.ok) return box.append(el("p", { className: "form-error", text: L.deliveries_error }));
  const data = result.data;
  const items = Array.isArray(data) ? data : data.results || [];
  if (!more && data.reminders) {
    const counts = Object.entries(data.reminders).filter(([, n]) => n);
    if (counts.length) {
      box.append(
        el("p", { className: "reminder-counts" }, `${L.reminders_summary} `,
          ...counts.flatMap(([status, n], i) => [
            i ? ", " : "",
            el("span", { className: status === "failed" ? "badge badge--warning" : "", "data-status": status }, `${L.reminder_statuses[status] || status} ${n}`),
          ])),
      );
    }
  }
  if (!more && !items.length) return box.append(el("p", { className: "muted", text: L.deliveries_empty }));
  let body = box.querySelector("table.deliveries tbody");
  if (!body) {
    const head = el("tr", {}, ...[L.when, L.channel, L.task, L.outcome, L.detail].map((text) => el("th", { scope: "col", text })));
    body = el("tbody");
    box.append(el("table", { className: "deliveries" }, el("thead", {}, head), body));
  }
  body.append(...items.map(deliveryRow));
  if (data.next) {
    const button = el("button", { type: "button", className: "button", "data-more": true, text: L.show_more });
    button.addEventListener("click", () => loadDeliveries(data.next));
    box.append(button);
  }
}

formatDates();
loadProtocols();
loadChecklist();
loadDeliveries();
