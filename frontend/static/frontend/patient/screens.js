// The patient's screens: sign-in, home, one step, messages, settings.
// Each takes the app context and draws into <main>; none keeps state of its own.

import { api, ApiError, OfflineError } from "./api.js";
import { announce, h, mount } from "./dom.js";
import {
  countdownText, dateTime, fmt, lang, localDay, longDate, number, recoveryText, weekHeading,
} from "./i18n.js";
import * as push from "./push.js";
import { conditionLine, conditionNote, healthCheckPrompt } from "./health_check.js";

const main = () => document.getElementById("main");

// The app's name in its header and in the window title follows the journey: getting ready
// before the surgery, recovering after it.
let appName = () => gettext("Getting ready for surgery");

/** Name the app for the phase the patient is in ("preparation" or "recovery"). */
export function showPhase(phase) {
  appName = phase === "recovery" ? () => gettext("Recovering from surgery") : () => gettext("Getting ready for surgery");
  const brand = document.querySelector(".brand");
  if (brand) brand.textContent = appName();
}

function screen(title, ...children) {
  document.title = `${title} · ${appName()}`;
  mount(main(), ...children);
}

function heading(text, level = "h1") {
  // Focus moves to the new screen's heading so screen readers start reading there.
  return h(level, { tabindex: "-1", class: level === "h1" ? "screen-title" : "" }, text);
}

export function focusHeading() {
  const title = main().querySelector(".screen-title");
  if (title) title.focus({ preventScroll: true });
}

function message(text, kind = "info") {
  return h("p", { class: `notice notice-${kind}` }, text);
}

function link(href, text, attrs = {}) {
  return h("a", { href, "data-link": true, ...attrs }, text);
}

// --- Sign-in ------------------------------------------------------------------------------

export function signIn(ctx, { code = "", error = "", linkError = "" } = {}) {
  const errorBox = h("p", { id: "code-error", class: "field-error", role: "alert" }, error);
  const input = h("input", {
    id: "code", name: "code", value: code, autocomplete: "one-time-code", autocapitalize: "characters",
    spellcheck: "false", required: true, maxlength: "32", "aria-describedby": "code-help code-error",
  });
  const form = h(
    "form", { class: "stack", novalidate: true, onsubmit: (event) => { event.preventDefault(); ctx.signIn(input.value); } },
    h("label", { for: "code" }, gettext("Your code")),
    h("p", { id: "code-help", class: "help" }, gettext("It has 8 letters and numbers, for example DEMO2345.")),
    input,
    errorBox,
    h("button", { class: "primary", type: "submit" }, gettext("Sign in")),
  );
  screen(
    gettext("Sign in"),
    heading(gettext("Welcome")),
    h("p", { class: "lead" }, gettext("Enter the code from your care team's invitation. You only need to do this once on this phone.")),
    form,
    linkSection(ctx, linkError),
  );
}

/** A new phone, or a code already used: a single-use sign-in link sent to the patient's email. */
function linkSection(ctx, error) {
  const errorBox = h("p", { id: "email-error", class: "field-error", role: "alert" }, error);
  const status = h("p", { class: "save-status", role: "status" });
  const input = h("input", {
    id: "email", name: "email", type: "email", autocomplete: "email", spellcheck: "false", required: true,
    maxlength: "254", "aria-describedby": "email-help email-error",
  });
  const button = h("button", { class: "secondary", type: "submit" }, gettext("Email me a sign-in link"));
  const form = h(
    "form", {
      class: "stack", novalidate: true, onsubmit: async (event) => {
        event.preventDefault();
        button.disabled = true;
        errorBox.textContent = status.textContent = "";
        const { sent, text } = await ctx.requestLink(input.value.trim());
        (sent ? status : errorBox).textContent = text;
        button.disabled = false;
        if (!sent) input.focus();
      },
    },
    h("label", { for: "email" }, gettext("Your email address")),
    h("p", { id: "email-help", class: "help" }, gettext("If your care team has your email address, we send you a link that signs you in on this phone.")),
    input,
    errorBox,
    button,
    status,
  );
  return h("section", { class: "card", "aria-labelledby": "h-link" },
    h("h2", { id: "h-link" }, gettext("No code, or a new phone?")),
    form);
}

export function notSaved() {
  screen(
    gettext("You are offline"),
    heading(gettext("You are offline")),
    h("p", {}, gettext("Your checklist has not been saved on this phone yet. Please connect to the internet and open the app again.")),
  );
}

export function staffOnly() {
  screen(
    gettext("Getting ready for surgery"),
    heading(gettext("This app is for patients")),
    h("p", {}, gettext("You are signed in as a member of the care team.")),
    h("p", {}, h("a", { href: "/coordinator/", class: "button primary" }, gettext("Go to the care team pages"))),
  );
}

// --- Home ---------------------------------------------------------------------------------

function dueText(task, today, timeZone) {
  if (task.status === "done") {
    return task.completed_at
      ? fmt(gettext("Done on %(date)s"), { date: longDate(localDay(task.completed_at, timeZone), today) })
      : gettext("Done");
  }
  // Not enough days are left for it to work fully: the care team decides what now.
  if (task.not_enough_time) return gettext("Call your care team about this step");
  if (task.due_date < today) return fmt(gettext("Planned for %(date)s"), { date: longDate(task.due_date, today) });
  if (task.late) return gettext("Do this as soon as you can");
  // Its planned day had passed when it was given, but there is still time: no blame, a start.
  if (task.start_now) {
    return task.due_date === today
      ? gettext("Start now: please do this today")
      : fmt(gettext("Start now, by %(date)s"), { date: longDate(task.due_date, today) });
  }
  if (task.due_date === today) return gettext("By today");
  return fmt(gettext("By %(date)s"), { date: longDate(task.due_date, today) });
}

function taskItem(task, checklist) {
  const done = task.status === "done";
  return h(
    "li", {},
    h(
      "a", { href: `/tasks/${task.id}/`, "data-link": true, class: `task${done ? " is-done" : ""}` },
      h("span", { class: `cat cat-${task.category}` }, task.category_label),
      conditionLine(task),
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
  if (caseData.phase === "recovery") return fmt(gettext("Your surgery was on %(date)s"), { date });
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
    h("h2", { id: "h-stage" }, gettext("Where you are now")),
    h("p", { class: "stage-now" }, stage.label),
    now.length
      ? [h("p", { class: "label" }, gettext("Right now:")),
        h("ul", { class: "stage-steps" }, now.map((t) => h("li", {}, t.title))),
        h("p", { class: "help" }, gettext("You find each of them in the list below."))]
      : null,
    next ? h("p", { class: "stage-next" }, h("span", { class: "label" }, gettext("After that:")), " ", next.label) : null);
}

/** "Your surgery is in only 20 days…": what a step short of time asks of the patient. */
function shortOfTimeText(days) {
  if (days <= 0) return gettext("Your surgery is today, so there is not enough time left for this. Call your care team now: they will tell you what to do.");
  return fmt(ngettext(
    "Your surgery is in only %(count)s day, so there is not enough time left for this. Call your care team today: they will tell you what to do.",
    "Your surgery is in only %(count)s days, so there is not enough time left for this. Call your care team today: they will tell you what to do.",
    days), { count: days });
}

/** Steps whose minimum lead time can no longer be met: call the care team. */
function callCareTeam(checklist, tasks) {
  const short = tasks.filter((t) => t.not_enough_time && t.status !== "done");
  if (!short.length || checklist.case.phase !== "preparation") return null;
  return h("section", { class: "card urgent", "aria-labelledby": "h-call" },
    h("h2", { id: "h-call" }, gettext("Please call your care team")),
    h("ul", { class: "plain", role: "list" }, short.map((t) => h("li", {},
      // The step itself is in the list below, marked "call your care team": one link to it is enough.
      // A step still waiting on a fact ("If you smoke or use nicotine:") says so here too.
      conditionLine(t, "p"),
      h("p", { class: "urgent-step" }, t.title),
      h("p", {}, shortOfTimeText(checklist.case.days_to_surgery)),
      t.lead_reason ? h("p", { class: "help" }, t.lead_reason) : null))));
}

function countdown(caseData, today) {
  if (caseData.status === "cancelled") {
    return h("section", { class: "countdown", "aria-live": "polite" },
      heading(gettext("Your surgery has been cancelled")),
      h("p", {}, gettext("Your care team will contact you about what happens next.")));
  }
  const days = caseData.days_to_surgery;
  const recovering = caseData.phase === "recovery";
  return h(
    "section", { class: `countdown${recovering ? " is-recovery" : ""}`, "aria-live": "polite", "aria-atomic": "true" },
    heading(recovering ? recoveryText(caseData.days_after_surgery, caseData.recovery_week) : countdownText(days)),
    h("p", { class: "surgery-date" }, surgeryWhen(caseData, today)),
    h("p", { class: "procedure" }, caseData.procedure,
      caseData.surgeon ? h("span", {}, " · ", fmt(gettext("with %(surgeon)s"), { surgeon: caseData.surgeon })) : null),
  );
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
  const { checklist, caseData } = ctx.state;
  const phase = (checklist && checklist.case.phase) || (caseData && caseData.phase);
  if (phase) showPhase(phase);
  if (!checklist) {
    screen(
      gettext("Home"),
      caseData ? countdown(caseData, caseData.today) : heading(gettext("Getting ready for surgery")),
      message(gettext("Your care team has not added your preparation steps yet. Please check again later.")),
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
  screen(
    gettext("Home"),
    countdown(checklist.case, today),
    callCareTeam(checklist, Object.values(all).flat()),
    preparationSpan(checklist),
    recoveryStage(checklist, Object.values(all).flat()),
    h("div", { class: "progress" },
      h("p", { id: "progress-label" }, progressLabel),
      h("progress", { max: String(total), value: String(doneCount), "aria-labelledby": "progress-label" })),
    healthCheckPrompt(ctx.tasks()),
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
        h("summary", {}, fmt(gettext("Before your surgery (%(count)s steps)"), { count: earlier.length })),
        taskList(earlier, checklist))
      : null,
    h("p", { class: "calendar" },
      h("a", { href: "/api/v1/me/calendar.ics", download: "surgery-preparation.ics", class: "button secondary", id: "add-to-calendar" },
        gettext("Add these dates to my calendar"))),
  );
}

// --- One step -----------------------------------------------------------------------------

function actionArea(ctx, task) {
  const { today, time_zone: timeZone } = ctx.state.checklist;
  const area = h("div", { class: "action", id: "task-action" });
  if (task.status === "done") {
    area.append(
      h("p", { class: "state state-done" }, h("span", { "aria-hidden": "true" }, "✓ "), dueText(task, today, timeZone)),
      task.waiting ? h("p", { class: "waiting" }, gettext("Waiting to be sent")) : "",
      h("button", { type: "button", class: "secondary", id: "undo", onclick: (e) => { e.currentTarget.disabled = true; ctx.setDone(task.id, false); } },
        gettext("Undo")),
    );
  } else {
    area.append(
      h("button", { type: "button", class: "primary", id: "mark-done", onclick: (e) => { e.currentTarget.disabled = true; ctx.setDone(task.id, true); } },
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
    const result = await ctx.saveAnswers(task.id, answers);
    if (result === "saved") status.textContent = gettext("Saved.");
    else if (result === "queued") status.textContent = gettext("Saved on this phone. It will be sent when you are back online.");
    else if (explicit || result) status.textContent = gettext("Your answers could not be saved. Please try again.");
  }

  return h("section", { class: "card", "aria-labelledby": "h-answers" },
    h("h2", { id: "h-answers" }, isQuestions ? gettext("Your questions for the surgeon") : gettext("Your notes")),
    h("p", { class: "help" }, isQuestions
      ? gettext("Take this list to your appointment. Write the answers here so you can read them again later.")
      : gettext("Write down dates and results here.")),
    form);
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

export function task(ctx, id) {
  const item = ctx.task(id);
  if (!item) {
    screen(gettext("Step not found"), heading(gettext("Step not found")),
      h("p", {}, gettext("This step is not on your checklist.")),
      h("p", {}, link("/", gettext("Back to my checklist"), { class: "button secondary" })));
    return;
  }
  const figures = item.targets.length
    ? h("section", { class: "card figures", "aria-labelledby": "h-figures" },
      h("h2", { id: "h-figures" }, gettext("Your personal amounts")),
      h("dl", {}, item.targets.map((t) => [h("dt", {}, t.label), h("dd", {}, amountText(t))])))
    : null;
  screen(
    item.title,
    h("p", { class: "back" }, link("/", [h("span", { "aria-hidden": "true" }, "‹ "), gettext("My checklist")])),
    h("p", { class: `cat cat-${item.category}` }, item.category_label),
    heading(item.title),
    conditionNote(item),
    h("p", { class: "when" }, item.status === "done" ? gettext("Done") : dueText(item, ctx.state.checklist.today, ctx.state.checklist.time_zone)),
    item.not_enough_time && item.status !== "done"
      ? h("section", { class: "card urgent", "aria-labelledby": "h-short" },
        h("h2", { id: "h-short" }, gettext("Please call your care team")),
        h("p", {}, shortOfTimeText(ctx.state.checklist.case.days_to_surgery)),
        item.lead_reason ? h("p", { class: "help" }, item.lead_reason) : null)
      : null,
    h("section", { "aria-labelledby": "h-what" },
      h("h2", { id: "h-what" }, gettext("What to do")),
      h("p", { class: "instructions" }, item.instructions)),
    figures,
    item.why
      ? h("section", { "aria-labelledby": "h-why" }, h("h2", { id: "h-why" }, gettext("Why it matters")), h("p", {}, item.why))
      : null,
    item.sub_items.length ? answersForm(ctx, item) : null,
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

// --- Messages -----------------------------------------------------------------------------

export async function inbox(ctx) {
  screen(gettext("Messages"), heading(gettext("Messages")), h("p", { class: "loading" }, gettext("Loading…")));
  let items = null;
  let unavailable = false;
  try {
    const { data } = await api("me/inbox/");
    items = Array.isArray(data) ? data : (data && data.results) || [];
  } catch (error) {
    if (error instanceof OfflineError) unavailable = "offline";
    else if (error instanceof ApiError && error.signedOut) return ctx.signedOut();
    else unavailable = "missing";
  }
  if (ctx.route.name !== "inbox") return;
  const unread = (items || []).filter((m) => !m.read_at).length;

  const list = (items || []).map((m) => {
    const taskId = (m.task && typeof m.task === "object" ? m.task.id : m.task) ?? m.task_id;
    const open = async (event) => {
      event.preventDefault();
      if (!m.read_at) await api(`me/inbox/${m.id}/read/`, { method: "POST" }).catch(() => {});
      ctx.refreshBadge();
      ctx.go(taskId ? `/tasks/${taskId}/` : "/inbox/");
    };
    return h("li", { class: `msg${m.read_at ? "" : " is-unread"}` },
      h("h2", {}, m.read_at ? null : h("span", { class: "new" }, gettext("New")), m.title),
      h("p", {}, m.body),
      h("p", { class: "help" }, dateTime(m.created_at, ctx.state.me.time_zone)),
      taskId
        ? h("a", { href: `/tasks/${taskId}/`, class: "button secondary", onclick: open }, gettext("Open this step"))
        : m.read_at ? null : h("button", { type: "button", class: "secondary", onclick: open }, gettext("Mark as read")));
  });

  const readAll = async () => {
    await api("me/inbox/read-all/", { method: "POST" }).catch(() => {});
    await ctx.refreshBadge();
    announce(gettext("All messages marked as read."));
    inbox(ctx);
  };
  screen(
    gettext("Messages"),
    heading(gettext("Messages")),
    unavailable === "offline" ? message(gettext("Your messages cannot be loaded while you are offline.")) : null,
    unread ? h("button", { type: "button", class: "primary", onclick: readAll }, gettext("Mark all as read")) : null,
    list.length
      ? h("ul", { class: "messages", role: "list" }, list)
      : unavailable === "offline" ? null : h("p", { class: "empty" }, gettext("No messages yet. Reminders about your steps will appear here.")),
  );
}

// --- Settings -----------------------------------------------------------------------------

function hhmm(value) {
  return (value || "").slice(0, 5);
}

function checkbox(name, label, checked, help) {
  return h("div", { class: "check" },
    h("input", { type: "checkbox", id: `f-${name}`, name, checked: Boolean(checked), "aria-describedby": help ? `f-${name}-help` : null }),
    h("label", { for: `f-${name}` }, label),
    help ? h("p", { class: "help", id: `f-${name}-help` }, help) : null);
}

/** A group of radio buttons with its own legend; each choice may carry a help line. */
function radioGroup(name, legend, current, choices) {
  return h("fieldset", { class: "choices", id: `f-${name}` },
    h("legend", {}, legend),
    ...choices.map(([value, label, help]) => h("div", { class: "check" },
      h("input", {
        type: "radio", id: `f-${name}-${value}`, name, value, checked: current === value,
        "aria-describedby": help ? `f-${name}-${value}-help` : null,
      }),
      h("label", { for: `f-${name}-${value}` }, label),
      help ? h("p", { class: "help", id: `f-${name}-${value}-help` }, help) : null)));
}

function timeField(name, label, value) {
  return h("div", { class: "field" },
    h("label", { for: `f-${name}` }, label),
    h("input", { type: "time", id: `f-${name}`, name, value: hhmm(value), required: true }));
}

// --- Notifications on this phone: one control whose words always match what will happen ---

function otherChannels(me) {
  const email = Boolean(me.email_enabled && me.contact_email);
  const inapp = Boolean(me.inapp_enabled);
  if (email && inapp) return gettext("You will still get reminders by email and in this app.");
  if (inapp) return gettext("You will still get reminders in this app.");
  if (email) return gettext("You will still get reminders by email.");
  return gettext("Turn on email or messages in this app above to get reminders.");
}

const PUSH_STATUS = {
  unavailable: () => gettext("Notifications are not available on this service yet."),
  offline: () => gettext("You need an internet connection to change this."),
  "ios-home-screen": () => gettext("On iPhone and iPad, notifications work only after you add this app to your Home Screen."),
  unsupported: () => gettext("This browser cannot show notifications."),
  denied: () => gettext("Notifications are blocked for this app in your browser's settings."),
  on: () => gettext("Notifications are on for this phone."),
  off: () => gettext("Notifications are off for this phone."),
};

/** Advice for this phone's platform only: nobody on Android reads about the iPhone's Share button. */
function pushAdvice(state, where) {
  if (state === "ios-home-screen") {
    return gettext("In Safari, tap the Share button, then “Add to Home Screen”. Open the app from your Home Screen and come back to this page to turn notifications on.");
  }
  if (state === "denied") {
    if (where === "ios") return gettext("To allow them, open the Settings app, tap Notifications, choose this app and turn on “Allow Notifications”.");
    if (where === "android") return gettext("To allow them, tap the icon next to the web address (for the app on your Home Screen: touch and hold its icon, then tap “App info”), open Notifications or Permissions and allow notifications. Then come back here.");
    return gettext("To allow them, click the icon at the left of the web address, set Notifications to “Allow”, then reload this page.");
  }
  if (state === "unsupported") {
    if (where === "ios") return gettext("Notifications need iOS 16.4 or later.");
    if (where === "android") return gettext("Chrome or Firefox on this phone can show them.");
  }
  return null;
}

function pushFailure(error) {
  switch (error.reason) {
    case "dismissed":
      return gettext("You closed the question without allowing notifications. Tap “Turn on notifications” to be asked again.");
    case "denied":
      return gettext("Notifications were blocked, so they could not be turned on.");
    case "offline":
      return gettext("You are offline, so notifications could not be turned on. Try again when you are connected.");
    case "server":
      return fmt(gettext("The app could not save this phone for notifications (error %(status)s). Please try again later."), { status: error.detail || "?" });
    default:
      return gettext("This browser could not register with its notification service, so notifications cannot be turned on here. This happens when the browser has that service switched off or blocked; trying again will not help until that changes.");
  }
}

async function pushSection(ctx) {
  const section = h("section", { class: "card push", id: "push", "aria-labelledby": "h-push" });
  const where = push.platform();

  async function draw({ failure = null, focus = false } = {}) {
    const me = ctx.state.me;
    const { state, key } = await push.state(me);
    const status = h("p", { class: "push-status", role: "status", tabindex: "-1" }, PUSH_STATUS[state]());
    const advice = pushAdvice(state, where);
    let button = null;
    if (state === "off") {
      button = h("button", {
        type: "button", class: "secondary", onclick: async () => {
          button.disabled = true;
          try {
            ctx.state.me = await push.turnOn(key, ctx.state.me);
            await draw({ focus: true });
            announce(gettext("Notifications are on for this phone."));
          } catch (error) {
            await draw({ failure: error, focus: true });
          }
        },
      }, gettext("Turn on notifications"));
    } else if (state === "on") {
      button = h("button", {
        type: "button", class: "secondary", onclick: async () => {
          button.disabled = true;
          await push.unsubscribe().catch(() => {});
          await draw({ focus: true });
          announce(gettext("Notifications are off for this phone."));
        },
      }, gettext("Turn off notifications"));
    }
    const problem = failure
      ? h("div", { class: "notice notice-problem push-error", role: "alert" },
        h("p", {}, pushFailure(failure)),
        failure.reason === "service" && failure.detail
          ? h("p", { class: "help" }, fmt(gettext("The browser said: %(detail)s"), { detail: failure.detail }))
          : null,
        h("p", {}, otherChannels(me)))
      : null;
    section.dataset.pushState = state;
    mount(section,
      h("h2", { id: "h-push" }, gettext("Notifications on this phone")),
      status,
      advice ? h("p", { class: "help push-advice" }, advice) : null,
      button,
      problem,
      !problem && state !== "on" && state !== "off" ? h("p", { class: "help push-channels" }, otherChannels(me)) : null);
    if (focus) status.focus();
  }

  await draw();
  // Unblocked (or blocked) in the browser's settings while this screen is open: say so at once.
  push.onPermissionChange(() => { if (section.isConnected) draw(); });
  return section;
}

export async function settings(ctx) {
  const me = ctx.state.me;
  const status = h("p", { class: "save-status", role: "status" });
  const deviceZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const form = h(
    "form", { class: "stack", onsubmit: (event) => { event.preventDefault(); submit(); } },
    h("fieldset", {},
      h("legend", {}, gettext("Reminders")),
      timeField("reminder_time", gettext("Time of day for reminders"), me.reminder_time),
      h("p", { class: "help" }, gettext("No reminders are sent during quiet hours.")),
      timeField("quiet_hours_start", gettext("Quiet hours start"), me.quiet_hours_start),
      timeField("quiet_hours_end", gettext("Quiet hours end"), me.quiet_hours_end)),
    h("fieldset", {},
      h("legend", {}, gettext("How to remind me")),
      // Notifications on this phone have their own control below: it knows what this phone can do.
      checkbox("email_enabled", gettext("Email"), me.email_enabled, me.contact_email || null),
      checkbox("inapp_enabled", gettext("Messages in this app"), me.inapp_enabled),
      radioGroup("channel_policy", gettext("Notifications and email"), me.channel_policy || "push_then_email", [
        ["push_then_email", gettext("Notifications, and email only when a notification did not reach me"),
          gettext("If a notification cannot be delivered to this phone, the same message comes by email within minutes.")],
        ["both", gettext("Both notifications and email"), null],
      ]),
      radioGroup("reminder_style", gettext("How many messages"), me.reminder_style || "digest", [
        ["digest", gettext("One message a day with everything that is due"),
          gettext("Important steps, like stopping certain medicines, are also sent on their own.")],
        ["per_step", gettext("One message for each step"), null],
      ])),
    h("fieldset", {},
      h("legend", {}, gettext("Language and time zone")),
      h("div", { class: "field" },
        h("label", { for: "f-language" }, gettext("Language")),
        h("select", { id: "f-language", name: "language" },
          h("option", { value: "en", selected: me.language === "en", lang: "en" }, "English"),
          h("option", { value: "es", selected: me.language === "es", lang: "es" }, "Español"))),
      h("p", {}, fmt(gettext("Time zone: %(zone)s"), { zone: me.time_zone })),
      deviceZone && deviceZone !== me.time_zone
        ? checkbox("use_device_zone", fmt(gettext("Use this phone's time zone (%(zone)s)"), { zone: deviceZone }), false)
        : null),
    h("button", { type: "submit", class: "primary" }, gettext("Save my settings")),
    status,
  );

  async function submit() {
    const data = new FormData(form);
    const body = {
      reminder_time: data.get("reminder_time"),
      quiet_hours_start: data.get("quiet_hours_start"),
      quiet_hours_end: data.get("quiet_hours_end"),
      email_enabled: data.has("email_enabled"),
      inapp_enabled: data.has("inapp_enabled"),
      channel_policy: data.get("channel_policy") || "push_then_email",
      reminder_style: data.get("reminder_style") || "digest",
      language: data.get("language"),
    };
    if (data.has("use_device_zone")) body.time_zone = deviceZone;
    try {
      const { data: saved } = await api("me/", { method: "PATCH", body });
      ctx.state.me = saved;
      if (saved.language !== lang) {
        // The whole app, its cached copy included, is drawn again in the new language.
        location.reload();
        return;
      }
      status.textContent = gettext("Your settings have been saved.");
    } catch (error) {
      status.textContent = error instanceof OfflineError
        ? gettext("You need an internet connection to change your settings.")
        : gettext("Your settings could not be saved. Please check the times and try again.");
    }
  }

  const accessCard = h("section", { class: "card", "aria-labelledby": "h-access" },
    h("h2", { id: "h-access" }, gettext("Your record")),
    h("p", { class: "help" }, gettext("See who in your care team has opened or changed your record, and when.")),
    h("p", {}, link("/access/", gettext("Who has looked at my record"), { class: "button secondary", id: "access-log-link" })),
    h("p", { class: "help" }, gettext("You can also keep a copy of everything this service holds about you, as a file.")),
    h("p", {}, h("a", { href: "/api/v1/me/export/", download: "", class: "button secondary", id: "export-link" },
      gettext("Download all my data"))));
  screen(gettext("Settings"), heading(gettext("Settings")), form, accessCard, h("p", { class: "help" }, gettext("Loading…")));
  const pushBox = await pushSection(ctx);
  if (ctx.route.name !== "settings") return;
  main().lastElementChild.replaceWith(pushBox);
  const everywhereStatus = h("p", { class: "save-status", role: "status" });
  const everywhere = h("button", {
    type: "button", class: "secondary", onclick: async () => {
      everywhere.disabled = true;
      // Only a failure comes back: on success the app starts again, signed out.
      everywhereStatus.textContent = await ctx.signOutEverywhere();
      everywhere.disabled = false;
    },
  }, gettext("Sign out on all my devices"));
  main().append(
    h("section", { class: "card", "aria-labelledby": "h-signout" },
      h("h2", { id: "h-signout" }, gettext("Sign out")),
      h("p", { class: "help" }, gettext("To sign in again, ask your care team for a new code, or ask for a sign-in link by email.")),
      h("button", { type: "button", class: "secondary", onclick: () => ctx.signOut() }, gettext("Sign out of this phone")),
      h("p", { class: "help" }, gettext("Lost a phone, or signed in on a computer that is not yours? This signs you out everywhere, on this phone too.")),
      everywhere,
      everywhereStatus),
  );
}

// --- Who has looked at my record ----------------------------------------------------------

function accessItem(entry, timeZone) {
  const team = [entry.who.role, entry.who.organization].filter(Boolean).join(", ");
  return h("li", { class: "msg access-entry" },
    h("h2", {}, entry.who.name),
    team ? h("p", { class: "help" }, team) : null,
    h("p", {}, entry.what),
    h("p", { class: "help" }, h("time", { datetime: entry.at }, dateTime(entry.at, timeZone))));
}

/** The care team's reads and changes of the patient's record, newest first, a page at a time. */
export async function accessLog(ctx) {
  const title = gettext("Who has looked at my record");
  const back = () => h("p", { class: "back" },
    link("/settings/", [h("span", { "aria-hidden": "true" }, "‹ "), gettext("Settings")]));
  screen(title, back(), heading(title), h("p", { class: "loading" }, gettext("Loading…")));
  let page;
  try {
    page = (await api("me/access-log/")).data;
  } catch (error) {
    if (error instanceof ApiError && error.signedOut) return ctx.signedOut();
    if (ctx.route.name !== "access") return;
    screen(title, back(), heading(title), message(error instanceof OfflineError
      ? gettext("This list cannot be loaded while you are offline.")
      : gettext("This list could not be loaded. Please try again later.")));
    return;
  }
  if (ctx.route.name !== "access") return;
  const timeZone = ctx.state.me.time_zone;
  const list = h("ul", { class: "messages", role: "list", id: "access-log" },
    page.results.map((entry) => accessItem(entry, timeZone)));
  let next = page.next;
  const more = h("button", {
    type: "button", class: "secondary", id: "access-log-more", onclick: async () => {
      more.disabled = true;
      try {
        const { data } = await api(`me/access-log/${new URL(next, location.origin).search}`);
        list.append(...data.results.map((entry) => accessItem(entry, timeZone)));
        next = data.next;
        announce(gettext("Earlier entries added to the list."));
      } catch {
        announce(gettext("Something went wrong. Please try again."));
      }
      more.disabled = false;
      more.hidden = !next;
    },
  }, gettext("Show earlier entries"));
  more.hidden = !next;
  screen(
    title,
    back(),
    heading(title),
    h("p", { class: "help" }, gettext("Each time someone in your care team opens or changes your record, it is noted here.")),
    page.results.length
      ? list
      : h("p", { class: "empty" }, gettext("No one in your care team has looked at your record yet.")),
    more,
  );
}
