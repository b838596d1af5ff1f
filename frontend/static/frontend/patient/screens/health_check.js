// The health check: four short questions (smoking, anti-inflammatory painkillers, blood
// thinners, diabetes) answered yes, no or not sure. Saving re-tailors the checklist on the
// server at once; this screen then says what changed, and the inbox keeps a message about it.
// Saving needs a connection (the answers change the list of steps, so they are not queued);
// the last answers are still shown offline when the phone has them.

import { api, ApiError, isOffline } from "../../shared/api.js";
import { announce, h, mount } from "../../shared/dom.js";

const QUESTIONS = [
  ["smoker", () => gettext("Do you smoke, vape or use any other nicotine?"), null],
  ["takes_nsaids", () => gettext("Do you take anti-inflammatory painkillers?"),
    () => gettext("For example ibuprofen, naproxen, or aspirin taken for pain.")],
  ["on_blood_thinners", () => gettext("Do you take a blood thinner?"),
    () => gettext("A medicine that keeps your blood from clotting. Your doctor or pharmacist can tell you.")],
  ["diabetic", () => gettext("Do you have diabetes?"), null],
];

const ANSWERS = [
  ["yes", () => gettext("Yes")],
  ["no", () => gettext("No")],
  ["not_sure", () => gettext("Not sure")],
];

function title(text) {
  document.title = `${text} · ${gettext("Getting ready for surgery")}`;
}

function back() {
  return h("p", { class: "back" },
    h("a", { href: "/", "data-link": true }, h("span", { "aria-hidden": "true" }, "‹ "), gettext("My checklist")));
}

function question([name, text, help], answer) {
  const legendId = `q-${name}`;
  return h("fieldset", { class: "question", "aria-describedby": help ? `${legendId}-help` : null },
    h("legend", { id: legendId }, text()),
    help ? h("p", { class: "help", id: `${legendId}-help` }, help()) : null,
    h("div", { class: "choices" },
      ANSWERS.map(([value, label]) => {
        const id = `${name}-${value}`;
        return h("label", { class: "choice", for: id },
          h("input", { type: "radio", id, name, value, checked: answer === value, required: true }),
          h("span", {}, label()));
      })));
}

function stepList(heading, steps) {
  if (!steps.length) return null;
  return [h("h3", {}, heading), h("ul", { class: "changed-steps" }, steps.map((s) => h("li", {}, s.title)))];
}

/** What saving did: the steps added, taken off or kept, and where the message is. */
function resultCard(result) {
  const changed = result.added.length || result.removed.length;
  return h("section", { class: "card health-check-result", id: "health-check-result", tabindex: "-1", "aria-labelledby": "h-result" },
    h("h2", { id: "h-result" }, changed ? gettext("Your steps have been updated") : gettext("Thank you. Your steps stay the same.")),
    stepList(gettext("New on your list"), result.added),
    stepList(gettext("Taken off your list"), result.removed),
    stepList(gettext("Still on your list, because you wrote notes in them"), result.kept),
    result.message
      ? h("p", { class: "help" }, gettext("A message with these changes is in your inbox."),
        " ", h("a", { href: "/inbox/", "data-link": true }, gettext("Open my messages")))
      : null,
    h("p", {}, h("a", { href: "/", "data-link": true, class: "button secondary" }, gettext("Back to my checklist"))));
}

export async function healthCheck(ctx) {
  const main = document.getElementById("main");
  const heading = h("h1", { class: "screen-title", tabindex: "-1" }, gettext("Your health check"));
  title(gettext("Your health check"));
  mount(main, back(), heading, h("p", { class: "loading" }, gettext("Loading…")));
  let answers = {};
  let saved = null; // offline with nothing saved on the phone
  try {
    answers = (await api("me/health-check/")).data || {};
    saved = true;
  } catch (error) {
    if (error instanceof ApiError && error.signedOut) return ctx.signedOut();
    saved = !isOffline(error);
  }
  if (ctx.route.name !== "health") return;

  const status = h("p", { class: "save-status", role: "status", id: "health-check-status" });
  const button = h("button", { type: "submit", class: "primary" }, gettext("Save my answers"));
  const form = h("form", { class: "stack health-check", novalidate: true, onsubmit: (event) => { event.preventDefault(); submit(); } },
    QUESTIONS.map((q) => question(q, answers[q[0]])),
    h("p", { class: "help" }, gettext("Not sure? Choose “Not sure”: the steps stay on your list, marked “if this applies to you”, and you can ask your care team.")),
    navigator.onLine ? null : h("p", { class: "notice notice-info" }, gettext("You need an internet connection to save your answers.")),
    button,
    status);

  async function submit() {
    const data = new FormData(form);
    const body = {};
    for (const [name] of QUESTIONS) body[name] = data.get(name);
    const missing = QUESTIONS.find(([name]) => !body[name]);
    if (missing) {
      status.textContent = gettext("Please answer every question, or choose “Not sure”.");
      form.querySelector(`input[name="${missing[0]}"]`).focus();
      return;
    }
    button.disabled = true;
    status.textContent = gettext("Saving…");
    try {
      const { data: result } = await api("me/health-check/", { method: "PUT", body });
      // The list of steps changed on the server: read it again on the way home.
      ctx.state.checklist = null;
      ctx.refreshBadge();
      status.textContent = gettext("Your answers have been saved.");
      form.after(resultCard(result));
      form.remove();
      const card = document.getElementById("health-check-result");
      card.focus();
      announce(card.querySelector("h2").textContent);
    } catch (error) {
      if (error instanceof ApiError && error.signedOut) return ctx.signedOut();
      status.textContent = isOffline(error)
        ? gettext("You need an internet connection to save your answers. Please try again when you are back online.")
        : gettext("Your answers could not be saved. Please try again.");
      button.disabled = false;
    }
  }

  if (!saved) {
    mount(main, back(), heading,
      h("p", { class: "notice notice-info" }, gettext("You need an internet connection to answer the health check.")));
    return;
  }
  mount(main, back(), heading,
    h("p", { class: "lead" }, gettext("Four short questions. Your answers make your list of steps fit you: steps that do not apply to you are taken off, and steps that do are added. You can change your answers at any time.")),
    form);
}
