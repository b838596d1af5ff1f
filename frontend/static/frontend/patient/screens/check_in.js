// The check-in after surgery: a few questions (0 to 10 scales and choices, as big radio
// buttons), then what the answers mean at once: call emergency services, call the care team
// today, or all clear. Never queued offline: a warning sign must not wait for a signal.

import { api, ApiError, isOffline } from "../../shared/api.js";
import { h, mount } from "../../shared/dom.js";
import { focusHeading, heading, link, message, screen } from "./frame.js";
import { careTeamButtons, emergencyButton } from "./safety.js";

function backHome() {
  return h("p", { class: "back" }, link("/", [h("span", { "aria-hidden": "true" }, "‹ "), gettext("Home")]));
}

/** Offline or no answer: say it plainly, and who to call now. */
function notSent(ctx, text) {
  const team = ctx.state.safety && ctx.state.safety.care_team;
  return h("section", { class: "card urgent", role: "alert", id: "check-in-not-sent" },
    h("h2", {}, gettext("Your check-in was not sent")),
    h("p", {}, text),
    h("p", { class: "strong" }, gettext("If you have a warning sign, do not wait: call now.")),
    emergencyButton(team),
    careTeamButtons(team),
    link("/when-to-call/", gettext("When to call: the warning signs"), { class: "button secondary" }));
}

function question(q) {
  const name = `q-${q.key}`;
  const choices = q.kind === "scale"
    ? Array.from({ length: q.max - q.min + 1 }, (_, i) => ({ key: q.min + i, text: String(q.min + i) }))
    : q.options;
  return h("fieldset", { class: `question question-${q.kind}`, "data-question": q.key, "aria-describedby": `${name}-error` },
    h("legend", {}, q.text),
    h("p", { class: "field-error", id: `${name}-error`, role: "alert", hidden: true }),
    h("div", { class: q.kind === "scale" ? "scale" : "choices" },
      choices.map((c) => h("label", { class: "option" },
        h("input", { type: "radio", name, value: String(c.key), "data-kind": q.kind }),
        h("span", {}, c.text)))));
}

function showErrors(form, errors) {
  for (const slot of form.querySelectorAll(".field-error")) { slot.hidden = true; slot.textContent = ""; }
  let first = null;
  for (const [key, messages] of Object.entries(errors)) {
    const set = form.querySelector(`[data-question="${CSS.escape(key)}"]`);
    const slot = set ? set.querySelector(".field-error") : form.querySelector("#check-in-error");
    slot.textContent = [].concat(messages).join(" ");
    slot.hidden = false;
    first = first || set || slot;
  }
  if (first) {
    first.scrollIntoView({ block: "center" });
    const input = first.querySelector && first.querySelector("input");
    (input || first).focus();
  }
}

function result(ctx, body) {
  const team = body.care_team;
  const signs = body.signs.length
    ? [h("p", { class: "label" }, gettext("Because you told us:")), h("ul", {}, body.signs.map((s) => h("li", {}, s.text)))]
    : null;
  let panel;
  if (body.urgency === "emergency") {
    panel = h("section", { class: "card result result-emergency", "data-urgency": "emergency" },
      heading(body.reply.title),
      h("p", { class: "action" }, body.reply.text),
      emergencyButton(team),
      signs,
      h("p", {}, gettext("Then tell your care team:")),
      careTeamButtons(team, "secondary"));
  } else if (body.urgency === "call_today") {
    panel = h("section", { class: "card result result-call", "data-urgency": "call_today" },
      heading(body.reply.title),
      h("p", { class: "action" }, body.reply.text),
      careTeamButtons(team),
      signs);
  } else {
    panel = h("section", { class: "card result result-clear", "data-urgency": "none" },
      heading(body.reply.title),
      h("p", {}, body.reply.text));
  }
  screen(body.reply.title, backHome(), panel,
    link("/when-to-call/", gettext("When to call: the warning signs"), { class: "button secondary" }),
    link("/", gettext("Back to home"), { class: "button secondary" }));
  // The answer starts at the top of the screen, whatever was scrolled to answer the last question.
  window.scrollTo(0, 0);
  focusHeading();
}

export async function checkIn(ctx) {
  const title = gettext("Today's check-in");
  await ctx.loadSafety();
  let form;
  try {
    form = (await api("me/check-ins/")).data;
  } catch (error) {
    if (error instanceof ApiError && error.signedOut) return ctx.signedOut();
    screen(title, backHome(), heading(title),
      notSent(ctx, isOffline(error)
        ? gettext("You are offline, so the check-in cannot be opened. It needs an internet connection.")
        : gettext("Something went wrong. Please try again.")));
    return;
  }
  if (!form.questions.length) {
    screen(title, backHome(), heading(title), message(gettext("There is no check-in for you at the moment.")));
    return;
  }
  const status = h("div", { id: "check-in-status" });
  const node = h("form", { class: "check-in stack", novalidate: true, onsubmit: (event) => { event.preventDefault(); send(); } },
    h("p", { class: "field-error", id: "check-in-error", role: "alert", hidden: true }),
    form.questions.map(question),
    h("button", { type: "submit", class: "primary", id: "send-check-in" }, gettext("Send my answers")),
    status);

  async function send() {
    const answers = {};
    const missing = {};
    for (const q of form.questions) {
      const chosen = node.querySelector(`input[name="q-${CSS.escape(q.key)}"]:checked`);
      if (!chosen) missing[q.key] = gettext("Please answer this question.");
      else answers[q.key] = q.kind === "scale" ? Number(chosen.value) : chosen.value;
    }
    if (Object.keys(missing).length) return showErrors(node, missing);
    showErrors(node, {});
    mount(status);
    const button = node.querySelector("#send-check-in");
    button.disabled = true;
    try {
      if (!navigator.onLine) throw new ApiError(0);
      const { data } = await api("me/check-ins/", { method: "POST", body: { answers } });
      ctx.state.safety = null; // today's check-in is done: the home screen asks again
      result(ctx, data);
    } catch (error) {
      button.disabled = false;
      if (error instanceof ApiError && error.status === 400 && error.data) {
        const fields = error.data.answers;
        showErrors(node, fields && !Array.isArray(fields) ? fields : { "": fields || error.data.detail || error.message });
      } else if (error instanceof ApiError && error.signedOut) {
        ctx.signedOut();
      } else {
        const text = isOffline(error)
          ? gettext("You are offline. Your answers were not sent and are not saved to send later.")
          : error instanceof ApiError && error.status === 409
            ? gettext("There is no check-in open for you today.")
            : gettext("Your answers could not be sent.");
        mount(status, notSent(ctx, text));
        status.querySelector("h2").setAttribute("tabindex", "-1");
        status.querySelector("h2").focus();
      }
    }
  }

  screen(title, backHome(), heading(title),
    form.due_today ? null : h("p", { class: "help" }, gettext("No check-in is planned for today, but you can answer if something has changed.")),
    h("p", { class: "lead" }, form.intro),
    node);
}
