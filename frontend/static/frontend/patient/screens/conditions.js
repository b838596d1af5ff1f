// The lines of a step that waits on a fact not known yet ("If you smoke or use nicotine:"), and
// the home screen's card asking for the health check: what the home and step screens draw of
// the health check, apart from its screen (health_check.js), which loads when it is opened.

import { h } from "../../shared/dom.js";

// "If you smoke:" above a step that depends on a fact not known yet.
const IF_FACT = {
  smoker: () => gettext("If you smoke or use nicotine:"),
  takes_nsaids: () => gettext("If you take anti-inflammatory painkillers:"),
  on_blood_thinners: () => gettext("If you take a blood thinner:"),
  diabetic: () => gettext("If you have diabetes:"),
  bone_density_concern: () => gettext("If your bones may be weak (osteoporosis):"),
  heart_or_lung_condition: () => gettext("If you have a heart or lung condition:"),
};

/** The line shown with a conditional step: "If you smoke or use nicotine:" or "If this applies to you:". */
export function conditionText(task) {
  const conditions = task.conditional_on || [];
  if (conditions.length === 1 && conditions[0].applies_when && IF_FACT[conditions[0].fact]) {
    return IF_FACT[conditions[0].fact]();
  }
  return gettext("If this applies to you:");
}

/** The line itself, for the home list and the step's screen. */
export function conditionLine(task, tag = "span") {
  return task.conditional ? h(tag, { class: "conditional" }, conditionText(task)) : null;
}

/** On a conditional step's screen: the condition, and the way to settle it. */
export function conditionNote(task) {
  if (!task.conditional || task.status === "done") return null;
  return h("p", { class: "conditional-note" },
    h("strong", {}, conditionText(task)), " ",
    gettext("This step is on your list in case it applies to you."), " ",
    h("a", { href: "/health-check/", "data-link": true }, gettext("Answer the health check")));
}

/** On the home screen: a card asking for the health check while some steps wait on it, else a small link. */
export function healthCheckPrompt(tasks) {
  const waiting = tasks.filter((t) => t.conditional && t.status !== "done").length;
  if (!waiting) {
    return h("p", { class: "health-check-link" },
      h("a", { href: "/health-check/", "data-link": true, id: "health-check-link" }, gettext("Update my health check")));
  }
  return h("section", { class: "card health-check-prompt", "aria-labelledby": "h-health-prompt" },
    h("h2", { id: "h-health-prompt" }, gettext("Some steps may not apply to you")),
    h("p", {}, fmtCount(waiting)),
    h("p", {}, h("a", { href: "/health-check/", "data-link": true, class: "button primary", id: "health-check-link" },
      gettext("Answer 4 short questions"))));
}

function fmtCount(count) {
  return interpolate(ngettext(
    "%(count)s step is marked “if this applies to you”. Your answers make your list fit you.",
    "%(count)s steps are marked “if this applies to you”. Your answers make your list fit you.", count,
  ), { count }, true);
}
