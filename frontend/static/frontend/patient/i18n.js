// Words and dates in the patient's language. The strings themselves come from Django's
// JavaScript catalog (gettext, ngettext, interpolate are globals it defines).

const g = globalThis;
// Without the catalog (it failed to load) the app still works, in English.
g.gettext ||= (s) => s;
g.ngettext ||= (s, p, n) => (n === 1 ? s : p);
g.interpolate ||= (fmt, obj) => fmt.replace(/%\(\w+\)s/g, (m) => String(obj[m.slice(2, -2)]));

export const lang = document.documentElement.lang || "en";
// "Friday 4 December" in English; "viernes, 4 de diciembre" in Spanish.
const locale = lang === "en" ? "en-GB" : lang;

export function fmt(text, values) {
  return interpolate(text, values, true);
}

function parseDay(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d));
}

/** A calendar date written out: "Friday 4 December" (with the year when it is not this year's). */
export function longDate(iso, today) {
  const day = parseDay(iso);
  const options = { weekday: "long", day: "numeric", month: "long", timeZone: "UTC" };
  if (today && parseDay(today).getUTCFullYear() !== day.getUTCFullYear()) options.year = "numeric";
  return new Intl.DateTimeFormat(locale, options).format(day);
}

/** The date of an instant (e.g. when a task was ticked off) in the patient's time zone, as YYYY-MM-DD. */
export function localDay(instant, timeZone) {
  try {
    return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" })
      .format(new Date(instant));
  } catch {
    return new Date(instant).toISOString().slice(0, 10);
  }
}

export function dateTime(instant, timeZone) {
  const options = { weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit" };
  try {
    return new Intl.DateTimeFormat(locale, { ...options, timeZone }).format(new Date(instant));
  } catch {
    return new Intl.DateTimeFormat(locale, options).format(new Date(instant));
  }
}

export function addDays(iso, days) {
  const d = parseDay(iso);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

export function daysBetween(fromIso, toIso) {
  return Math.round((parseDay(toIso) - parseDay(fromIso)) / 86400000);
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
