// Settings → "People who help me", for the patient: invite one by email, stop sharing at once.
// Only Settings draws it, so it is loaded with Settings, not with the home screen.

import { api, ApiError, isOffline } from "../../shared/api.js";
import { announce, h } from "../../shared/dom.js";
import { fmt } from "../i18n.js";

function field(id, label, attrs) {
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, name: id.replace("cg-", ""), ...attrs }),
    h("p", { class: "field-error", id: `${id}-error`, hidden: true }));
}

function caregiverItem(link, onRevoke) {
  return h("li", { class: "caregiver" },
    h("p", { class: "strong" }, `${link.name} (${link.relationship})`),
    h("p", { class: "help" }, link.access_label),
    h("button", { type: "button", class: "secondary", onclick: () => onRevoke(link) },
      fmt(gettext("Stop sharing with %(name)s"), { name: link.name })));
}

/** The card, drawn from me/caregivers/; it draws itself again after each change. */
export async function caregiversCard() {
  const card = h("section", { class: "card", id: "caregivers", "aria-labelledby": "h-caregivers" });
  const status = h("p", { class: "save-status", role: "status" });

  async function revoke(link) {
    try {
      await api(`me/caregivers/${link.id}/`, { method: "DELETE" });
      const said = fmt(gettext("%(name)s can no longer see your plan."), { name: link.name });
      announce(said);
      await draw(said);
    } catch (error) {
      status.textContent = isOffline(error) ? gettext("You need an internet connection to do this.")
        : gettext("Something went wrong. Please try again.");
    }
  }

  async function invite(form) {
    const value = (name) => form.elements.namedItem(name).value.trim();
    for (const box of form.querySelectorAll(".field-error")) box.hidden = true;
    try {
      const { data } = await api("me/caregivers/", { method: "POST", body: {
        name: value("name"), relationship: value("relationship"), email: value("email"),
        // Their emails come in the language the patient reads the app in.
        language: document.documentElement.lang,
        access: form.elements.namedItem("access").checked ? "see_and_tick" : "see",
        gets_reminders: form.elements.namedItem("gets_reminders").checked,
      } });
      await draw(fmt(gettext("An invitation is on its way to %(email)s."), { email: data.email }));
    } catch (error) {
      if (error instanceof ApiError && error.status === 400 && error.data) {
        for (const [name, messages] of Object.entries(error.data)) {
          const box = form.querySelector(`#cg-${name}-error`);
          if (box) { box.textContent = [].concat(messages).join(" "); box.hidden = false; }
        }
      } else {
        status.textContent = isOffline(error) ? gettext("You need an internet connection to do this.")
          : gettext("Something went wrong. Please try again.");
      }
    }
  }

  async function draw(said = "") {
    let links = [];
    try {
      links = (await api("me/caregivers/")).data.filter((l) => l.live);
    } catch {
      links = [];
    }
    const form = h("form", { class: "stack", onsubmit: (event) => { event.preventDefault(); invite(event.currentTarget); } },
      field("cg-name", gettext("Their name"), { type: "text", maxlength: "100", autocomplete: "off", required: true }),
      field("cg-relationship", gettext("Who they are to you (for example, daughter)"),
        { type: "text", maxlength: "60", autocomplete: "off", required: true }),
      field("cg-email", gettext("Their own email address"), { type: "email", maxlength: "254", autocomplete: "off", required: true }),
      h("div", { class: "check" }, h("input", { type: "checkbox", id: "cg-access", name: "access" }),
        h("label", { for: "cg-access" }, gettext("They may also tick off steps for me"))),
      h("div", { class: "check" }, h("input", { type: "checkbox", id: "cg-gets_reminders", name: "gets_reminders", checked: true }),
        h("label", { for: "cg-gets_reminders" }, gettext("Send them the messages meant for family: an important step late, the evening before and the day of surgery, the rules when they change"))),
      h("button", { type: "submit", class: "secondary" }, gettext("Send the invitation")));
    status.textContent = said;
    card.replaceChildren(
      h("h2", { id: "h-caregivers" }, gettext("People who help me")),
      h("p", { class: "help" }, gettext("Someone close to you can follow your plan on their own phone. You can stop sharing at any moment.")),
      links.length ? h("ul", { class: "stack", role: "list" }, links.map((l) => caregiverItem(l, revoke)))
        : h("p", {}, gettext("Nobody follows your plan yet.")),
      form, status);
  }

  await draw();
  return card;
}
