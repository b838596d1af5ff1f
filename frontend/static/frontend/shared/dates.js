// Dates in the page's language. Calendar dates ("2025-12-04") are the patient's own days:
// they are formatted in UTC so that no time zone shifts them to the day before or after.

import { lang } from "./dom.js";

// Written out, "Friday 4 December" in English; "viernes, 4 de diciembre" in Spanish.
const longLocale = lang === "en" ? "en-GB" : lang;
// In the coordinator's tables: "Dec 4, 2025"; an instant with its time in the browser's zone.
const shortFormat = new Intl.DateTimeFormat(lang, { year: "numeric", month: "short", day: "numeric", timeZone: "UTC" });
const instantFormat = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });

function parseDay(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d));
}

/** A calendar date written out: "Friday 4 December" (with the year when it is not this year's). */
export function longDate(iso, today) {
  const day = parseDay(iso);
  const options = { weekday: "long", day: "numeric", month: "long", timeZone: "UTC" };
  if (today && parseDay(today).getUTCFullYear() !== day.getUTCFullYear()) options.year = "numeric";
  return new Intl.DateTimeFormat(longLocale, options).format(day);
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

/** An instant written out, day and time, in the patient's time zone. */
export function dateTime(instant, timeZone) {
  const options = { weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit" };
  try {
    return new Intl.DateTimeFormat(longLocale, { ...options, timeZone }).format(new Date(instant));
  } catch {
    return new Intl.DateTimeFormat(longLocale, options).format(new Date(instant));
  }
}

export function daysBetween(fromIso, toIso) {
  return Math.round((parseDay(toIso) - parseDay(fromIso)) / 86400000);
}

/** A calendar date in short: "Dec 4, 2025"; "—" for none. */
export function shortDate(iso) {
  if (!iso) return "—";
  const date = new Date(`${iso}T00:00:00Z`);
  return Number.isNaN(date.getTime()) ? iso : shortFormat.format(date);
}

/** An instant in short, with its time: "Dec 4, 2025, 9:30 AM"; "—" for none. */
export function shortDateTime(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : instantFormat.format(date);
}
