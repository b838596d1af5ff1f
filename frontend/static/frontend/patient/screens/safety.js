// The safety net on the home screen (me/safety/): the rules in force, the day-of card, the
// warning signs in the first two weeks, today's check-in; and the pieces the "When to call"
// and check-in screens share: phone buttons and the emergency number in an action's words.

import { longDate } from "../../shared/dates.js";
import { h } from "../../shared/dom.js";
import { fmt } from "../i18n.js";
import { whose } from "./caregivers.js";
import { link } from "./frame.js";

// The urgencies, most urgent first, as the patient reads them.
export const URGENCIES = ["emergency", "call_today", "before_surgery"];

export function telHref(phone) {
  return `tel:${String(phone).replace(/[^\d+]/g, "")}`;
}

/** A big phone button: what it is for, then the number (read out and shown). */
export function phoneButton(label, phone, kind = "primary") {
  if (!phone) return null;
  return h("a", { href: telHref(phone), class: `button call ${kind}` },
    h("span", { class: "call-label" }, label), h("span", { class: "call-number" }, phone));
}

/** The care team's numbers as buttons (none when the clinic has not given them). */
export function careTeamButtons(team, kind = "primary") {
  if (!team) return null;
  return [
    phoneButton(whose(gettext("Call your care team"), gettext("Call %(name)s's care team")), team.phone, kind),
    phoneButton(gettext("After hours"), team.after_hours_phone, "secondary"),
  ];
}

/** The clinic's emergency number (care_team.emergency_number), dialled by the emergency buttons. */
export function emergencyButton(team) {
  const number = team && team.emergency_number;
  return number ? phoneButton(gettext("Call emergency services"), number, "danger") : null;
}

/** "6:30" from "06:30:00" or from an ISO local datetime's time; "midnight" for 0:00. */
export function clock(value) {
  const time = value.includes("T") ? value.split("T")[1] : value;
  const [hours, minutes] = time.split(":");
  if (Number(hours) === 0 && minutes === "00") return gettext("midnight");
  return `${Number(hours)}:${minutes}`;
}

function whenText(iso, today) {
  return fmt(gettext("%(time)s on %(date)s"), { time: clock(iso), date: longDate(iso.slice(0, 10), today) });
}

// --- Rules for now ------------------------------------------------------------------------------

function ruleItem(rule, today) {
  const until = rule.until_lifted
    ? whose(gettext("Until your care team says otherwise"), gettext("Until %(name)s's care team says otherwise"))
    : rule.end_date ? fmt(gettext("Ends on %(date)s"), { date: longDate(rule.end_date, today) }) : null;
  return h("li", { class: `rule${rule.ending_soon ? " is-ending" : ""}`, "data-rule": rule.key },
    rule.conditional ? h("p", { class: "condition" }, gettext("If this applies to you:")) : null,
    h("h3", { class: "rule-title" }, rule.title),
    h("p", { class: "rule-text" }, rule.text),
    until ? h("p", { class: "rule-until" }, until) : null);
}

export function rulesNow(safety) {
  if (!safety || !safety.phase) return null;
  const { rules, rules_ended: ended, today } = safety;
  return h("section", { class: "card rules", "aria-labelledby": "h-rules" },
    h("h2", { id: "h-rules" }, gettext("Rules for now")),
    rules.length
      ? h("ul", { class: "plain", role: "list" }, rules.map((r) => ruleItem(r, today)))
      : h("p", {}, gettext("There are no special rules for you right now.")),
    ended.length
      ? h("ul", { class: "plain ended", role: "list" }, ended.map((r) => h("li", { "data-ended": r.key },
        fmt(gettext("No longer needed from %(date)s: %(title)s"), { date: longDate(r.ended_on, today), title: r.title }))))
      : null);
}

// --- The days just before the surgery ------------------------------------------------------------

function dayOfTasks(ctx, card) {
  const today = ctx.state.checklist && ctx.state.checklist.today;
  const tasks = ctx.tasks().filter((t) => t.status !== "done" && t.due_date >= today && t.due_date <= card.surgery_date);
  if (!tasks.length) return null;
  return [h("p", { class: "label" }, whose(gettext("The detailed steps are in your checklist:"), gettext("The detailed steps are in %(name)s's checklist:"))),
    h("ul", { class: "stage-steps" }, tasks.slice(0, 5).map((t) => h("li", {}, link(`/tasks/${t.id}/`, t.title))))];
}

export function dayOfCard(ctx, safety) {
  const card = safety && safety.day_of;
  if (!card) return null;
  const { today } = safety;
  const asTold = whose(gettext("as your care team told you"), gettext("as the care team told %(name)s"));
  const item = (label, text) => h("li", {}, h("strong", {}, label), " ", text);
  return h("section", { class: "card day-of", "aria-labelledby": "h-day-of" },
    h("h2", { id: "h-day-of" }, whose(gettext("Your surgery day"), gettext("%(name)s's surgery day"))),
    card.arrival_time
      ? h("p", { class: "arrive" }, fmt(gettext("Arrive at %(time)s on %(date)s"),
        { time: clock(card.arrival_time), date: longDate(card.surgery_date, today) }))
      : h("p", { class: "arrive" }, whose(gettext("Surgery on %(date)s. Your care team will tell you when to arrive."),
        gettext("Surgery on %(date)s. The care team will tell %(name)s when to arrive."), { date: longDate(card.surgery_date, today) })),
    h("ul", { class: "day-of-list" },
      item(gettext("Food:"), card.food_until
        ? fmt(gettext("no food after %(when)s."), { when: whenText(card.food_until, today) })
        : fmt(gettext("stop eating %(as_told)s."), { as_told: asTold })),
      item(gettext("Drinks:"), card.clear_fluids_until
        ? fmt(gettext("clear fluids (such as water) until %(when)s. Nothing to drink after that."), { when: whenText(card.clear_fluids_until, today) })
        : fmt(gettext("clear fluids (such as water) only, %(as_told)s."), { as_told: asTold })),
      card.rule_confirmed ? null : h("li", { class: "confirm" }, whose(gettext("Your care team will confirm these times with you."), gettext("The care team will confirm these times with %(name)s."))),
      item(gettext("Morning medicines:"), gettext("take them as your care team told you. Be sure about diabetes medicines and blood thinners: ask if you do not know.")),
      item(gettext("Wash:"), gettext("shower and wash your skin as your care team told you.")),
      item(gettext("Bring:"), gettext("your list of medicines, your ID and insurance card, and your glasses or hearing aids.")),
      item(gettext("Going home:"), whose(gettext("an adult must drive you home and stay with you for the first 24 hours."),
        gettext("an adult must drive %(name)s home and stay with %(name)s for the first 24 hours.")))),
    dayOfTasks(ctx, card));
}

// --- After the surgery: warning signs and check-ins ------------------------------------------------

export function signsOnHome(safety) {
  if (!safety || !safety.show_signs_on_home) return null;
  const emergency = safety.warning_signs.find((g) => g.urgency === "emergency");
  return h("section", { class: "card signs-home", "aria-labelledby": "h-signs-home" },
    h("h2", { id: "h-signs-home" }, gettext("Warning signs: do not wait")),
    emergency
      ? [h("p", { class: "action" }, emergency.action),
        h("ul", {}, emergency.signs.map((s) => h("li", {}, s.text)))]
      : null,
    link("/when-to-call/", gettext("All warning signs and phone numbers"), { class: "button danger" }));
}

export function checkInCard(safety) {
  const state = safety && safety.check_in;
  if (!state || !state.due_today) return null;
  if (state.done_today) {
    return h("section", { class: "card check-in-card is-done", "aria-labelledby": "h-check-in" },
      h("h2", { id: "h-check-in" }, gettext("Today's check-in")),
      h("p", {}, gettext("Done. Thank you.")),
      link("/check-in/", gettext("Answer again if something has changed")));
  }
  return h("section", { class: "card check-in-card", "aria-labelledby": "h-check-in" },
    h("h2", { id: "h-check-in" }, gettext("Today's check-in")),
    h("p", {}, gettext("A few questions about how you are today. It takes about a minute.")),
    link("/check-in/", gettext("Start today's check-in"), { class: "button primary" }));
}

/** Before the surgery, on the home screen: where to find who to call. */
export function whenToCallLink(safety) {
  if (!safety || safety.phase === "recovery") return null;
  return h("p", { class: "when-to-call-link" },
    link("/when-to-call/", whose(gettext("When to call your care team"), gettext("When to call %(name)s's care team")),
      { class: "button secondary" }));
}
