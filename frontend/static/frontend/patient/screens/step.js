// One step: what to do and why, the patient's own amounts, the notes or questions to fill
// in, and the button that ticks it off (offline too).

import { h, mount } from "../../shared/dom.js";
import { dueText, number, shortOfTimeText } from "../i18n.js";
import { saveAnswers, setDone } from "../ticks.js";
import { conditionNote } from "./conditions.js";
import { tickedBy, whose } from "./caregivers.js";
import { heading, link, screen } from "./frame.js";
import { withTerms } from "./terms.js";

/** Tick the step off or on, then its button as the step now is (unless the sign-in screen took its place). */
async function tick(ctx, id, done) {
  if (await setDone(ctx, id, done)) refreshTaskAction(ctx, id);
}

function actionArea(ctx, task) {
  const { today, time_zone: timeZone } = ctx.state.checklist;
  const area = h("div", { class: "action", id: "task-action" });
  // A caregiver the patient lets only see the steps gets no button to tick them.
  const mayTick = !ctx.state.following || ctx.state.following.can_tick;
  if (task.status === "done") {
    area.append(
      h("p", { class: "state state-done" }, h("span", { "aria-hidden": "true" }, "✓ "), dueText(task, today, timeZone)),
      tickedBy(task) || "",
      task.waiting ? h("p", { class: "waiting" }, gettext("Waiting to be sent")) : "",
      !mayTick ? "" : h("button", { type: "button", class: "secondary", id: "undo", onclick: (e) => { e.currentTarget.disabled = true; tick(ctx, task.id, false); } },
        gettext("Undo")),
    );
  } else if (mayTick) {
    area.append(
      h("button", { type: "button", class: "primary", id: "mark-done", onclick: (e) => { e.currentTarget.disabled = true; tick(ctx, task.id, true); } },
        gettext("Mark as done")),
    );
  }
  return area;
}

function answersForm(ctx, task) {
  const isQuestions = task.category === "questions";
  const status = h("p", { class: "save-status", role: "status" });
  const fields = task.sub_items.map((item, index) =>
    h("div", { class: "field" },
      h("label", { for: `answer-${item.key}` }, isQuestions ? `${index + 1}. ${item.text}` : item.text),
      h("textarea", {
        id: `answer-${item.key}`, name: item.key, rows: "3", value: item.answer || "",
        onchange: () => save(false),
      })));
  const form = h("form", { class: "stack answers", onsubmit: (event) => { event.preventDefault(); save(true); } },
    fields,
    h("button", { type: "submit", class: "secondary" }, gettext("Save my answers")),
    status);

  async function save(explicit) {
    const answers = {};
    for (const area of form.querySelectorAll("textarea")) answers[area.name] = area.value;
    const result = await saveAnswers(ctx, task.id, answers);
    if (result === "saved") status.textContent = gettext("Saved.");
    else if (result === "queued") status.textContent = gettext("Saved on this phone. It will be sent when you are back online.");
    else if (explicit || result) status.textContent = gettext("Your answers could not be saved. Please try again.");
  }

  return h("section", { class: "card", "aria-labelledby": "h-answers" },
    h("h2", { id: "h-answers" }, isQuestions ? gettext("Your questions for the surgeon") : gettext("Your notes")),
    h("p", { class: "help" }, isQuestions
      ? gettext("Take this list to your appointment. Write the answers here so you can read them again later.")
      : gettext("Write down dates and results here.")),
    form,
    isQuestions
      ? h("p", {}, h("a", { href: "/visit-sheet/", class: "button secondary", id: "visit-sheet-link", target: "_blank", rel: "noopener" },
        gettext("Print my visit sheet")))
      : null);
}

// Units as the patient's language writes them ("IU" is "UI" in Spanish).
const UNITS = { g: () => gettext("g"), mg: () => gettext("mg"), IU: () => gettext("IU") };

/** "96–128 g a day", "1200 mg a day": numbers written the patient's way (see number() in i18n.js). */
function amountText(target) {
  const perKg = target.unit.includes("/kg");
  const digits = perKg ? 1 : 0;
  let amount;
  if (target.min !== null && target.max !== null) amount = `${number(target.min, digits)}–${number(target.max, digits)}`;
  else if (target.value !== null) amount = number(target.value, digits);
  else return target.text;
  const [mass, ...rest] = target.unit.split("/");
  let unit = UNITS[mass] ? UNITS[mass]() : mass;
  if (rest.includes("kg")) unit += ` ${gettext("per kilogram of body weight")}`;
  if (rest.includes("day")) unit += ` ${gettext("a day")}`;
  return `${amount} ${unit}`;
}

export function step(ctx, id) {
  const item = ctx.task(id);
  if (!item) {
    screen(gettext("Step not found"), heading(gettext("Step not found")),
      h("p", {}, whose(gettext("This step is not on your checklist."), gettext("This step is not on %(name)s's checklist."))),
      h("p", {}, link("/", gettext("Back to my checklist"), { class: "button secondary" })));
    return;
  }
  const figures = item.targets.length
    ? h("section", { class: "card figures", "aria-labelledby": "h-figures" },
      h("h2", { id: "h-figures" }, whose(gettext("Your personal amounts"), gettext("%(name)s's personal amounts"))),
      h("dl", {}, item.targets.map((t) => [h("dt", {}, t.label), h("dd", {}, amountText(t))])))
    : null;
  // Words of the glossary (fusion, DEXA, no BLT…) open their meaning when tapped, once per screen.
  const glossary = ctx.state.about && ctx.state.about.glossary;
  const seen = new Set();
  screen(
    item.title,
    h("p", { class: "back" }, link("/", [h("span", { "aria-hidden": "true" }, "‹ "), gettext("My checklist")])),
    h("p", { class: `cat cat-${item.category}` }, item.category_label),
    heading(item.title),
    conditionNote(item),
    h("p", { class: "when" }, item.status === "done" ? gettext("Done") : dueText(item, ctx.state.checklist.today, ctx.state.checklist.time_zone)),
    item.not_enough_time && item.status !== "done"
      ? h("section", { class: "card urgent", "aria-labelledby": "h-short" },
        h("h2", { id: "h-short" }, whose(gettext("Please call your care team"), gettext("Please call %(name)s's care team"))),
        h("p", {}, shortOfTimeText(ctx.state.checklist.case.days_to_surgery)),
        item.lead_reason ? h("p", { class: "help" }, item.lead_reason) : null)
      : null,
    item.stop_today && item.status !== "done"
      ? h("section", { class: "card stop-today", "aria-labelledby": "h-stop" },
        h("h2", { id: "h-stop", class: "stop-badge" }, gettext("Stop today")),
        h("p", { class: "stop-text" }, item.stop_today_text))
      : null,
    item.shown_answers && item.shown_answers.length
      ? h("section", { class: "card agreed", "aria-labelledby": "h-agreed" },
        h("h2", { id: "h-agreed" }, gettext("What you agreed before surgery")),
        h("dl", {}, item.shown_answers.map((a) => [h("dt", {}, a.text),
          h("dd", {}, a.answer || h("span", { class: "empty" }, gettext("Not written down yet. Please call your care team to check.")))])))
      : null,
    h("section", { "aria-labelledby": "h-what" },
      h("h2", { id: "h-what" }, gettext("What to do")),
      withTerms("p", { class: "instructions" }, item.instructions, glossary, seen)),
    figures,
    item.why
      ? h("section", { "aria-labelledby": "h-why" }, h("h2", { id: "h-why" }, gettext("Why it matters")),
        withTerms("p", {}, item.why, glossary, seen))
      : null,
    item.sub_items.length && !ctx.state.following ? answersForm(ctx, item) : null,
    h("div", { "aria-live": "polite", id: "task-action-region" }, actionArea(ctx, item)),
  );
}

/** Redraw only the step's state and button after ticking off or undoing, keeping focus there. */
export function refreshTaskAction(ctx, id) {
  const region = document.getElementById("task-action-region");
  if (!region) return;
  const item = ctx.task(id);
  mount(region, actionArea(ctx, item));
  const button = region.querySelector("button");
  if (button) button.focus();
}
