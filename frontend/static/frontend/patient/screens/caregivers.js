// Caregivers. For a caregiver: whose plan this is (a switcher for several); the screens are the
// patient's own, their data from following/<id>/. (The patient's own card of the people who
// help them is caregivers_card.js, loaded with Settings.)

import { h } from "../../shared/dom.js";
import { fmt } from "../i18n.js";

/** "You are following Pat Example's plan", and a choice of patient when there are several. */
export function followingBar(ctx) {
  const { following, followed } = ctx.state;
  if (!following) return null;
  const line = h("p", { class: "following-who" },
    fmt(gettext("You are following %(name)s's plan, as their %(relationship)s."),
      { name: following.patient_name, relationship: following.relationship }),
    following.can_tick
      ? h("span", { class: "help" }, ` ${gettext("Your ticks need an internet connection: offline, a tick is not saved.")}`)
      : h("span", { class: "help" }, ` ${gettext("You can see the steps; only they tick them off.")}`));
  if (followed.length < 2) return h("div", { class: "following card" }, line);
  const select = h("select", {
    id: "following-switch",
    onchange: (event) => ctx.follow(Number(event.currentTarget.value)),
  }, followed.map((f) => h("option", { value: String(f.id), selected: f.id === following.id }, f.patient_name)));
  return h("div", { class: "following card" }, line,
    h("label", { for: "following-switch" }, gettext("Whose plan to show")), select);
}

/** Who ticked a step off, when it was not the patient: "Ticked off by Ana (daughter)". */
export function tickedBy(task) {
  if (!task.ticked_off_by || task.status !== "done") return null;
  return h("p", { class: "ticked-by" }, fmt(gettext("Ticked off by %(who)s"), { who: task.ticked_off_by }));
}

// The words for a caregiver ("Walt's surgery") live with the other words, in i18n.js.
export { givenName, isCaregiver, speakOf, whose } from "../i18n.js";
