// The home screen: the countdown to the surgery (or the recovery after it), what to do this
// week, what is still to do from earlier, what is coming up, and what is done.

import { longDate } from "../../shared/dates.js";
import { h } from "../../shared/dom.js";
import { countdownText, dueText, fmt, recoveryText, shortOfTimeText, weekHeading } from "../i18n.js";
import { yourOperation } from "./about_data.js";
import { conditionLine, healthCheckPrompt } from "./conditions.js";
import { followingBar, isCaregiver, whose } from "./caregivers.js";
import { heading, link, message, screen, showPhase } from "./frame.js";
import { checkInCard, clock, dayOfCard, rulesNow, signsOnHome, whenToCallLink } from "./safety.js";

function taskItem(task, checklist) {
  const done = task.status === "done";
  return h(
    "li", {},
    h(
      "a", { href: `/tasks/${task.id}/`, "data-link": true, class: `task${done ? " is-done" : ""}` },
      h("span", { class: `cat cat-${task.category}` }, task.category_label),
      conditionLine(task),
      task.stop_today && !done ? h("span", { class: "stop-badge small" }, gettext("Stop today")) : null,
      h("span", { class: "task-title" }, task.title),
      h("span", { class: "task-when" },
        done ? h("span", { class: "tick", "aria-hidden": "true" }, "✓ ") : null,
        dueText(task, checklist.today, checklist.time_zone)),
      task.waiting ? h("span", { class: "waiting" }, gettext("Waiting to be sent")) : null,
    ),
  );
}

function taskList(tasks, checklist) {
  return h("ul", { class: "tasks", role: "list" }, tasks.map((t) => taskItem(t, checklist)));
}

/** "7:30" from the API's "07:30:00" (a time of day where the patient lives, 24-hour clock). */
function timeOfDay(value) {
  const [hours, minutes] = value.split(":");
  return { hour: Number(hours), text: `${Number(hours)}:${minutes}` };
}

function surgeryWhen(caseData, today) {
  const date = longDate(caseData.surgery_date, today);
  if (caseData.phase === "recovery") return whose(gettext("Your surgery was on %(date)s"), gettext("%(name)s's surgery was on %(date)s"), { date });
  if (!caseData.surgery_time) return fmt(gettext("Surgery on %(date)s"), { date });
  const { hour, text } = timeOfDay(caseData.surgery_time);
  // Spanish says "a la 1:30" but "a las 7:30": one o'clock has a message of its own.
  const words = hour === 1 && typeof pgettext === "function"
    ? pgettext("one o'clock", "Surgery on %(date)s at %(time)s")
    : gettext("Surgery on %(date)s at %(time)s");
  return fmt(words, { date, time: text });
}

/** How long the preparation takes, from the protocol (its preparation_weeks). */
function preparationSpan(checklist) {
  const span = checklist.protocol?.preparation_weeks;
  if (!span || checklist.case.phase !== "preparation" || checklist.case.days_to_surgery <= 0) return null;
  return h("p", { class: "preparation-span" },
    fmt(gettext("Most of the preparation happens in the %(min)s to %(max)s weeks before surgery."), span));
}

/**
 * After the surgery: the stage of the recovery the patient is in, what to keep doing now
 * (the open recovery steps whose window holds today, however far their due day), and the
 * stage after it.
 */
function recoveryStage(checklist, tasks) {
  const stage = checklist.case.recovery_stage;
  if (checklist.case.phase !== "recovery" || !stage) return null;
  const { today } = checklist;
  const stages = checklist.protocol?.recovery_stages || [];
  const next = stages[stages.findIndex((s) => s.key === stage.key) + 1];
  const now = tasks.filter((t) => t.phase === "recovery" && t.status !== "done"
    && (t.window_start || t.due_date) <= today && today <= (t.window_end || t.due_date));
  return h("section", { class: "card stage", "aria-labelledby": "h-stage" },
    h("h2", { id: "h-stage" }, whose(gettext("Where you are now"), gettext("Where %(name)s is now"))),
    h("p", { class: "stage-now" }, stage.label),
    now.length
      ? [h("p", { class: "label" }, gettext("Right now:")),
        h("ul", { class: "stage-steps" }, now.map((t) => h("li", {}, t.title))),
        h("p", { class: "help" }, gettext("You find each of them in the list below."))]
      : null,
    next ? h("p", { class: "stage-next" }, h("span", { class: "label" }, gettext("After that:")), " ", next.label) : null);
}

/** Steps whose minimum lead time can no longer be met: call the care team. */
function callCareTeam(checklist, tasks) {
  const short = tasks.filter((t) => t.not_enough_time && t.status !== "done");
  if (!short.length || checklist.case.phase !== "preparation") return null;
  return h("section", { class: "card urgent", "aria-labelledby": "h-call" },
    h("h2", { id: "h-call" }, whose(gettext("Please call your care team"), gettext("Please call %(name)s's care team"))),
    h("ul", { class: "plain", role: "list" }, short.map((t) => h("li", {},
      // The step itself is in the list below, marked "call your care team": one link to it is enough.
      // A step still waiting on a fact ("If you smoke or use nicotine:") says so here too.
      conditionLine(t, "p"),
      h("p", { class: "urgent-step" }, t.title),
      h("p", {}, shortOfTimeText(checklist.case.days_to_surgery)),
      t.lead_reason ? h("p", { class: "help" }, t.lead_reason) : null))));
}

/** The way to "About your surgery", on the countdown card before and after the operation. */
function aboutLink(about) {
  const operation = yourOperation(about);
  return h("p", { class: "about-link" },
    link("/about/", [h("span", {}, whose(gettext("About your surgery"), gettext("About %(name)s's surgery"))),
      operation ? h("span", { class: "about-operation" }, operation) : null], { class: "button secondary", id: "about-surgery" }));
}

function countdown(caseData, today, about = null) {
  if (caseData.status === "cancelled") {
    return h("section", { class: "countdown", "aria-live": "polite" },
      heading(whose(gettext("Your surgery has been cancelled"), gettext("%(name)s's surgery has been cancelled"))),
      h("p", {}, whose(gettext("Your care team will contact you about what happens next."),
        gettext("The care team will contact %(name)s about what happens next."))));
  }
  const days = caseData.days_to_surgery;
  const recovering = caseData.phase === "recovery";
  return h(
    "section", { class: `countdown${recovering ? " is-recovery" : ""}`, "aria-live": "polite", "aria-atomic": "true" },
    heading(recovering ? recoveryText(caseData.days_after_surgery, caseData.recovery_week)
      : isCaregiver() ? namedCountdown(days) : countdownText(days)),
    h("p", { class: "surgery-date" }, surgeryWhen(caseData, today)),
    caseData.arrival_time && !recovering
      ? h("p", { class: "arrival" }, fmt(gettext("Arrive at %(time)s"), { time: clock(caseData.arrival_time) }))
      : null,
    h("p", { class: "procedure" }, caseData.procedure,
      caseData.surgeon ? h("span", {}, " · ", fmt(gettext("with %(surgeon)s"), { surgeon: caseData.surgeon })) : null),
    about ? aboutLink(about) : null,
  );
}

/** The countdown as a caregiver reads it: "23 days to Walt's surgery". */
function namedCountdown(days) {
  if (days === 0) return whose("", gettext("%(name)s's surgery is today"));
  if (days === 1) return whose("", gettext("%(name)s's surgery is tomorrow"));
  if (days < 0) return whose("", gettext("%(name)s's surgery date has passed"));
  return whose("", ngettext("%(count)s day to %(name)s's surgery", "%(count)s days to %(name)s's surgery", days), { count: days });
}

function byWeek(tasks) {
  const weeks = new Map();
  for (const task of tasks) {
    const key = task.weeks_until_due;
    if (!weeks.has(key)) weeks.set(key, []);
    weeks.get(key).push(task);
  }
  return [...weeks.entries()].sort((a, b) => a[0] - b[0]);
}

export function home(ctx) {
  const { checklist, caseData, safety, about } = ctx.state;
  const phase = (checklist && checklist.case.phase) || (caseData && caseData.phase);
  if (phase) showPhase(phase);
  if (!checklist) {
    screen(
      gettext("Home"),
      followingBar(ctx),
      caseData ? countdown(caseData, caseData.today) : heading(gettext("Getting ready for surgery")),
      message(whose(gettext("Your care team has not added your preparation steps yet. Please check again later."),
        gettext("%(name)s's care team has not added the preparation steps yet. Please check again later."))),
      whenToCallLink(safety),
    );
    return;
  }
  const all = ctx.groups();
  const { today } = checklist;
  // After the surgery the home screen is about the recovery; the preparation is kept below, folded.
  const recovering = checklist.case.phase === "recovery";
  const inPhase = (t) => !recovering || t.phase === "recovery";
  const groups = Object.fromEntries(Object.entries(all).map(([name, list]) => [name, list.filter(inPhase)]));
  const earlier = recovering ? Object.values(all).flat().filter((t) => t.phase !== "recovery") : [];
  const total = Object.values(groups).reduce((n, list) => n + list.length, 0);
  const doneCount = groups.done.length;
  const progressLabel = fmt(recovering
    ? gettext("%(done)s of %(total)s recovery steps done")
    : gettext("%(done)s of %(total)s steps done"), { done: doneCount, total });
  const rest = h("div", { class: "later" });
  screen(
    gettext("Home"),
    followingBar(ctx),
    // The link is there as soon as there is a checklist; its pages say so if not saved yet.
    countdown(checklist.case, today, about || {}),
    callCareTeam(checklist, Object.values(all).flat()),
    dayOfCard(ctx, safety),
    signsOnHome(safety),
    checkInCard(safety),
    preparationSpan(checklist),
    recoveryStage(checklist, Object.values(all).flat()),
    rulesNow(safety),
    whenToCallLink(safety),
    h("div", { class: "progress" },
      h("p", { id: "progress-label" }, progressLabel),
      h("progress", { max: String(total), value: String(doneCount), "aria-labelledby": "progress-label" })),
    isCaregiver() ? null : healthCheckPrompt(ctx.tasks()),
    h("section", { class: "group group-week", "aria-labelledby": "h-week" },
      h("h2", { id: "h-week" }, gettext("To do this week")),
      groups.this_week.length
        ? taskList(groups.this_week, checklist)
        : h("p", { class: "empty" }, gettext("Nothing new to do this week."))),
    groups.overdue.length
      ? h("section", { class: "group group-overdue", "aria-labelledby": "h-overdue" },
        h("h2", { id: "h-overdue" }, gettext("Still to do from earlier")),
        h("p", { class: "help" }, gettext("The planned date has passed. Please do these as soon as you can.")),
        taskList(groups.overdue, checklist))
      : null,
    rest,
  );
  // What comes below the fold (the later steps, the done ones, the calendar) is drawn in a task of
  // its own right after this one, so that no single task holds the phone up for long. Not drawn
  // when another screen (or a fresh home screen) has taken its place meanwhile.
  setTimeout(() => {
    if (rest.isConnected) rest.replaceWith(...belowTheFold(checklist, groups, earlier, doneCount));
  }, 0);
}

function belowTheFold(checklist, groups, earlier, doneCount) {
  return [
    groups.coming_up.length
      ? h("section", { class: "group", "aria-labelledby": "h-coming" },
        h("h2", { id: "h-coming" }, gettext("Coming up")),
        byWeek(groups.coming_up).map(([weeks, tasks]) => [h("h3", {}, weekHeading(weeks)), taskList(tasks, checklist)]))
      : null,
    h("section", { class: "group", "aria-labelledby": "h-done" },
      h("h2", { id: "h-done" }, gettext("Done")),
      doneCount
        ? taskList(groups.done, checklist)
        : h("p", { class: "empty" }, gettext("Steps you mark as done will be listed here."))),
    earlier.length
      ? h("details", { class: "group earlier" },
        h("summary", {}, whose(gettext("Before your surgery (%(count)s steps)"),
          gettext("Before %(name)s's surgery (%(count)s steps)"), { count: earlier.length })),
        taskList(earlier, checklist))
      : null,
    isCaregiver() ? null : h("p", { class: "calendar" },
      h("a", { href: "/api/v1/me/calendar.ics", download: "surgery-preparation.ics", class: "button secondary", id: "add-to-calendar" },
        gettext("Add these dates to my calendar"))),
  ].filter(Boolean);
}
