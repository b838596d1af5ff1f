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

/** "23 days to your surgery", "Your surgery is tomorrow", "Your surgery is today". */
export function countdownText(days) {
  if (days === 0) return gettext("Your surgery is today");
  if (days === 1) return gettext("Your surgery is tomorrow");
  if (days < 0) return gettext("Your surgery date has passed");
  return fmt(ngettext("%(count)s day to your surgery", "%(count)s days to your surgery", days), { count: days });
}

/** After the surgery: "Day 3 after your surgery" for two weeks, then "Week 3 of your recovery". */
export function recoveryText(day, week) {
  if (day <= 0) return gettext("Your surgery was today");
  if (day <= 14) return fmt(gettext("Day %(day)s after your surgery"), { day });
  return fmt(gettext("Week %(week)s of your recovery"), { week });
}

/** When a step is due, or when it was done, as the home list and the step's screen say it. */
export function dueText(task, today, timeZone) {
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

/** "Your surgery is in only 20 days…": what a step short of time asks of the patient. */
export function shortOfTimeText(days) {
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
