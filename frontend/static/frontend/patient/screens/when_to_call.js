// "When to call": the care team's numbers, when they read messages, and the warning signs by
// urgency, emergency first. Offline it is drawn from the last answer the phone saved.

import { dateTime } from "../../shared/dates.js";
import { h } from "../../shared/dom.js";
import { fmt } from "../i18n.js";
import { whose } from "./caregivers.js";
import { heading, link, message, screen } from "./frame.js";
import { URGENCIES, careTeamButtons, emergencyButton } from "./safety.js";

const GROUP_TITLES = {
  emergency: () => gettext("Emergency"),
  call_today: () => whose(gettext("Call your care team today"), gettext("Call %(name)s's care team today")),
  before_surgery: () => whose(gettext("Before your surgery: call before you come in"),
    gettext("Before %(name)s's surgery: call before coming in")),
};

function group(safetyGroup, team) {
  const { urgency } = safetyGroup;
  return h("section", { class: `card signs signs-${urgency}`, "aria-labelledby": `h-${urgency}`, "data-urgency": urgency },
    h("h2", { id: `h-${urgency}` }, (GROUP_TITLES[urgency] || (() => urgency))()),
    h("p", { class: "action" }, safetyGroup.action),
    urgency === "emergency" ? emergencyButton(team) : careTeamButtons(team, "secondary"),
    h("p", { class: "label" }, gettext("If you have any of these:")),
    h("ul", { class: "sign-list" }, safetyGroup.signs.map((s) => h("li", { "data-sign": s.key }, s.text))));
}

export async function whenToCall(ctx) {
  await ctx.loadSafety();
  const { safety, safetySavedAt } = ctx.state;
  const title = gettext("When to call");
  const back = h("p", { class: "back" }, link("/", [h("span", { "aria-hidden": "true" }, "‹ "), gettext("Home")]));
  if (!safety) {
    screen(title, back, heading(title),
      message(gettext("This page has not been saved on this phone yet. If you feel very unwell, call emergency services now."), "problem"));
    return;
  }
  const team = safety.care_team;
  const zone = ctx.state.me && ctx.state.me.time_zone;
  const groups = [...safety.warning_signs].sort((a, b) => URGENCIES.indexOf(a.urgency) - URGENCIES.indexOf(b.urgency));
  screen(title, back, heading(title),
    safetySavedAt !== null
      ? message(safetySavedAt
        ? fmt(gettext("You are offline. This page was saved on %(time)s."), { time: dateTime(safetySavedAt, zone) })
        : gettext("You are offline. This page was saved earlier."), "saved")
      : null,
    h("section", { class: "card care-team", "aria-labelledby": "h-team" },
      h("h2", { id: "h-team" }, team.organization || whose(gettext("Your care team"), gettext("%(name)s's care team"))),
      careTeamButtons(team),
      team.check_in_hours
        ? h("p", { class: "hours" }, fmt(gettext("The care team reads messages %(hours)s. It is not watched around the clock."),
          { hours: team.check_in_hours }))
        : h("p", { class: "hours" }, gettext("Messages to the care team are not watched around the clock."))),
    groups.map((g) => group(g, team)));
}
