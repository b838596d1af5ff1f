// A patient's checklist on their page, grouped as the patient's app groups it: overdue,
// this week, coming up, done.

import { api } from "../shared/api.js";
import { h } from "../shared/dom.js";
import { L, dateElement, fill } from "./page.js";

function taskRow(task) {
  const due = h("td", {}, dateElement(task.due_date));
  if (task.window_start && task.window_end) {
    due.append(h("span", { class: "meta" }, `${L.window}: `, dateElement(task.window_start), " – ", dateElement(task.window_end)));
  }
  const state = h("td", {}, L.status[task.status] || task.status);
  if (task.late) state.append(" ", h("span", { class: "badge badge--outline" }, L.late));
  const title = h("th", { scope: "row" }, task.title);
  if (task.conditional) {
    // On the list because a fact it depends on is not known yet.
    const facts = (task.conditional_on || []).map((c) => (L.fact_labels || {})[c.fact] || c.fact).join(", ");
    title.append(" ", h("span", {
      class: "badge badge--outline", "data-conditional": "", title: fill(L.conditional_hint, { facts }),
    }, L.conditional));
  }
  if (task.not_enough_time) {
    state.append(" ", h("span", { class: "badge badge--danger", "data-not-enough-time": "" }, L.not_enough_time));
  }
  return h(
    "tr",
    { "data-task-key": task.key, "data-task-id": task.id },
    title,
    h("td", {}, task.category_label),
    due,
    state,
  );
}

/** Draw the checklist (again: after the facts changed or the surgery moved). */
export async function loadChecklist() {
  const box = document.querySelector("[data-checklist]");
  if (!box) return;
  box.setAttribute("aria-busy", "true");
  let checklist = null;
  let failure = null;
  try {
    checklist = (await api(`cases/${box.dataset.caseId}/checklist/`)).data;
  } catch (error) {
    failure = error;
  }
  box.replaceChildren();
  box.removeAttribute("aria-busy");
  if (failure && failure.status === 404) return box.append(h("p", {}, L.no_checklist));
  if (failure) return box.append(h("p", { class: "form-error" }, L.checklist_error));
  for (const [name, label] of Object.entries(L.groups)) {
    const tasks = checklist.groups[name] || [];
    const id = `group-${name}`;
    const heading = h("h3", { id }, `${label} `, h("span", { class: `badge ${name === "overdue" && tasks.length ? "badge--danger" : "badge--muted"}` }, tasks.length));
    const section = h("section", { class: "task-group", "data-group": name, "aria-labelledby": id }, heading);
    if (!tasks.length) {
      section.append(h("p", { class: "muted" }, L.no_tasks));
    } else {
      const head = h("tr", {}, [L.task, L.category, L.due, L.state].map((text) => h("th", { scope: "col" }, text)));
      section.append(h("table", { class: "tasks" }, h("thead", {}, head), h("tbody", {}, tasks.map(taskRow))));
    }
    box.append(section);
  }
}
