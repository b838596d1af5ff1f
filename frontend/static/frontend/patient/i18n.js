// Words and numbers in the patient's language. The strings themselves come from Django's
// JavaScript catalog (gettext, ngettext, interpolate are globals it defines).

import { longDate, localDay } from "../shared/dates.js";
import { lang } from "../shared/dom.js";

const g = globalThis;
// Without the catalog (it failed to load) the app still works, in English.
g.gettext ||= (s) => s;
g.ngettext ||= (s, p, n) => (n === 1 ? s : p);
g.interpolate ||= (fmt, obj) => fmt.replace(/%\(\w+\)s/g, (m) => String(obj[m.slice(2, -2)]));

export function fmt(text, values) {
  return interpolate(text, values, true);
}

// --- The strings of the screens loaded later ------------------------------------------------------
// The shell's catalog has the first load's strings; each screen loaded with import() brings its
// own (app-i18n/<lang>/<part>.json, kept offline by the service worker). The shell carries those
// of the screen its address opens.

// Each part's loading, by name: asked for once, and every screen of the part waits for it.
const parts = new Map();

function addStrings(catalog) {
  if (g.django && g.django.catalog) Object.assign(g.django.catalog, catalog);
}

const carried = document.getElementById("first-strings");
if (carried) {
  const { part, catalog } = JSON.parse(carried.textContent);
  addStrings(catalog);
  parts.set(part, Promise.resolve());
}

function loadStrings(part) {
  const base = document.body.dataset.strings;
  // Without the catalog the app speaks English, and so do its later screens.
  if (!base || !(g.django && g.django.catalog)) return Promise.resolve();
  if (!parts.has(part)) {
    parts.set(part, fetch(`${base}${part}.json`, { credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : Promise.reject(new Error(String(response.status)))))
      .then((data) => addStrings(data.catalog))
      // Offline with no saved copy: this screen in English; the next opening asks again.
      .catch(() => { parts.delete(part); }));
  }
  return parts.get(part);
}

/** The module being loaded (an import() of the part's module), once its strings are in the catalog too. */
export function withStrings(part, loading) {
  return Promise.all([loading, loadStrings(part)]).then(([module]) => module);
}

// --- Words for a caregiver: "Walt's surgery", never "your surgery" ------------------------------

let followed = null;

/** The followed patient the screens speak of (null for the patient themselves). */
export function speakOf(following) {
  followed = following;
}

/** The first word of the patient's name: how the family says it ("Walt"). */
export function givenName(fullName) {
  return String(fullName || "").trim().split(/\s+/)[0] || "";
}

/** The patient's own words, or for a caregiver the same said of the patient by name. */
export function whose(own, named, values = {}) {
  return fmt(followed ? named : own, { ...values, name: followed ? givenName(followed.patient_name) : "" });
}

export const isCaregiver = () => followed !== null;

/** "23 days to your surgery", "Your surgery is tomorrow", "Your surgery is today". */
export function countdownText(days) {
  if (days === 0) return gettext("Your surgery is today");
  if (days === 1) return gettext("Your surgery is tomorrow");
  if (days < 0) return gettext("Your surgery date has passed");
  return fmt(ngettext("%(count)s day to your surgery", "%(count)s days to your surgery", days), { count: days });
}

/** After the surgery: "Day 3 after your surgery" for two weeks, then "Week 3 of your recovery". */
export function recoveryText(day, week) {
  if (day <= 0) return whose(gettext("Your surgery was today"), gettext("%(name)s's surgery was today"));
  if (day <= 14) return whose(gettext("Day %(day)s after your surgery"), gettext("Day %(day)s after %(name)s's surgery"), { day });
  return whose(gettext("Week %(week)s of your recovery"), gettext("Week %(week)s of %(name)s's recovery"), { week });
}

/** When a step is due, or when it was done, as the home list and the step's screen say it. */
export function dueText(task, today, timeZone) {
  if (task.status === "done") {
    return task.completed_at
      ? fmt(gettext("Done on %(date)s"), { date: longDate(localDay(task.completed_at, timeZone), today) })
      : gettext("Done");
  }
  // Not enough days are left for it to work fully: the care team decides what now.
  if (task.not_enough_time) return whose(gettext("Call your care team about this step"), gettext("Call %(name)s's care team about this step"));
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

/** "Your surgery is in only 20 days…": what a step short of time asks of the patient. */
export function shortOfTimeText(days) {
  if (isCaregiver()) {
    if (days <= 0) return whose("", gettext("%(name)s's surgery is today, so there is not enough time left for this. Call %(name)s's care team now: they will say what to do."));
    return whose("", ngettext(
      "%(name)s's surgery is in only %(count)s day, so there is not enough time left for this. Call %(name)s's care team today: they will say what to do.",
      "%(name)s's surgery is in only %(count)s days, so there is not enough time left for this. Call %(name)s's care team today: they will say what to do.",
      days), { count: days });
  }
  if (days <= 0) return gettext("Your surgery is today, so there is not enough time left for this. Call your care team now: they will tell you what to do.");
  return fmt(ngettext(
    "Your surgery is in only %(count)s day, so there is not enough time left for this. Call your care team today: they will tell you what to do.",
    "Your surgery is in only %(count)s days, so there is not enough time left for this. Call your care team today: they will tell you what to do.",
    days), { count: days });
}

/**
 * A number in the patient's language, as the protocol's texts write them: "1.5" or "1,5";
 * "1200" in both (groups of three only from five digits); then "12,000" in English and
 * "12 000" in Spanish (a narrow space: a period there would read as a decimal point to some).
 */
export function number(value, maximumFractionDigits = 0) {
  const parts = new Intl.NumberFormat(lang, { maximumFractionDigits, useGrouping: Math.abs(value) >= 10000 })
    .formatToParts(value);
  return parts.map((part) => (part.type === "group" && lang !== "en" ? "\u202f" : part.value)).join("");
}

/** The heading of one week in "coming up": "Next week", "In 3 weeks". */
export function weekHeading(weeks) {
  if (weeks <= 0) return gettext("This week");
  if (weeks === 1) return gettext("Next week");
  return fmt(ngettext("In %(count)s week", "In %(count)s weeks", weeks), { count: weeks });
}
