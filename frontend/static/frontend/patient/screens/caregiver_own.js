// A caregiver's own screens: their messages about the people they follow, and how they hear
// from us (their channels, quiet hours, reminder time and language: the patient's are not theirs).

import { api, ApiError, isOffline } from "../../shared/api.js";
import { dateTime } from "../../shared/dates.js";
import { announce, h } from "../../shared/dom.js";
import { fmt } from "../i18n.js";
import { keyBytes, permission, support } from "../push.js";
import { signOut } from "../sign_out.js";
import { heading, message, screen } from "./frame.js";

const hhmm = (value) => (value || "").slice(0, 5);

export async function familyInbox(ctx) {
  screen(gettext("Messages"), heading(gettext("Messages")), h("p", { class: "loading" }, gettext("Loading…")));
  let items = [];
  let offline = false;
  try {
    items = (await api("following/inbox/")).data;
  } catch (error) {
    if (error instanceof ApiError && error.signedOut) return ctx.signedOut();
    offline = isOffline(error);
  }
  if (ctx.route.name !== "inbox") return;
  const list = items.map((m) => {
    const read = async (event) => {
      await api(`following/inbox/${m.id}/read/`, { method: "POST" }).catch(() => {});
      event.currentTarget.remove();
    };
    return h("li", { class: `msg${m.read_at ? "" : " is-unread"}` },
      h("h2", {}, m.read_at ? null : h("span", { class: "new" }, gettext("New")), m.title),
      h("p", { class: "help" }, fmt(gettext("About %(name)s"), { name: m.patient_name })),
      h("p", { class: "msg-body" }, m.body),
      h("p", { class: "help" }, dateTime(m.created_at, null)),
      m.read_at ? null : h("button", { type: "button", class: "secondary", onclick: read }, gettext("Mark as read")));
  });
  screen(gettext("Messages"), heading(gettext("Messages")),
    offline ? message(gettext("Your messages cannot be loaded while you are offline.")) : null,
    list.length ? h("ul", { class: "messages", role: "list" }, list)
      : offline ? null : h("p", { class: "empty" },
        gettext("No messages yet. What the people you help asked us to tell you will appear here.")));
}

function timeField(id, label, value) {
  return h("div", { class: "field" }, h("label", { for: id }, label),
    h("input", { id, name: id.replace("own-", ""), type: "time", value: hhmm(value), required: true }),
    h("p", { class: "field-error", id: `${id}-error`, hidden: true }));
}

function check(id, label, checked) {
  return h("div", { class: "check" }, h("input", { type: "checkbox", id, name: id.replace("own-", ""), checked }),
    h("label", { for: id }, label));
}

/** Subscribe this phone for the caregiver's own notifications; "" when done, else why not. */
async function pushOnThisPhone(key) {
  if (support() !== "ok") return gettext("This phone cannot show notifications from this app.");
  if ((await Notification.requestPermission()) !== "granted" || permission() !== "granted") {
    return gettext("Notifications are blocked for this app on this phone.");
  }
  const registration = await navigator.serviceWorker.ready;
  const subscription = await registration.pushManager.getSubscription()
    || await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
  await api("following/push/", { method: "POST", body: subscription.toJSON() });
  return "";
}

export async function caregiverSettings(ctx) {
  screen(gettext("Settings"), heading(gettext("Settings")), h("p", { class: "loading" }, gettext("Loading…")));
  let own;
  try {
    own = (await api("following/settings/")).data;
  } catch (error) {
    if (error instanceof ApiError && error.signedOut) return ctx.signedOut();
    return screen(gettext("Settings"), heading(gettext("Settings")), message(isOffline(error)
      ? gettext("Your settings cannot be changed while you are offline.") : gettext("Something went wrong. Please try again.")));
  }
  if (ctx.route.name !== "settings") return;
  const status = h("p", { class: "save-status", role: "status" });

  async function save(form) {
    const value = (name) => form.elements.namedItem(name);
    for (const box of form.querySelectorAll(".field-error")) box.hidden = true;
    try {
      const { data } = await api("following/settings/", { method: "PATCH", body: {
        language: value("language").value, reminder_time: value("reminder_time").value,
        quiet_hours_start: value("quiet_hours_start").value, quiet_hours_end: value("quiet_hours_end").value,
        email_enabled: value("email_enabled").checked, inapp_enabled: value("inapp_enabled").checked,
        push_enabled: value("push_enabled").checked,
      } });
      if (data.push_enabled && !own.push_enabled && own.push_public_key) {
        const problem = await pushOnThisPhone(own.push_public_key).catch(() => gettext("Something went wrong. Please try again."));
        if (problem) { status.textContent = problem; return; }
      }
      if (data.language !== document.documentElement.lang) return location.replace("/settings/");
      own = data;
      status.textContent = gettext("Saved.");
      announce(status.textContent);
    } catch (error) {
      if (error instanceof ApiError && error.status === 400 && error.data) {
        for (const [name, messages] of Object.entries(error.data)) {
          const box = form.querySelector(`#own-${name}-error`);
          if (box) { box.textContent = [].concat(messages).join(" "); box.hidden = false; }
        }
      } else {
        status.textContent = isOffline(error) ? gettext("You need an internet connection to do this.")
          : gettext("Something went wrong. Please try again.");
      }
    }
  }

  const form = h("form", { class: "stack", onsubmit: (event) => { event.preventDefault(); save(event.currentTarget); } },
    h("p", { class: "help" }, gettext("These are your own choices, for every person you follow. The person you follow decides only whether you are told; you decide how and when.")),
    h("fieldset", {}, h("legend", {}, gettext("How we tell you")),
      check("own-inapp_enabled", gettext("In this app (Messages)"), own.inapp_enabled),
      check("own-email_enabled", gettext("By email"), own.email_enabled),
      own.push_public_key ? check("own-push_enabled", gettext("Notifications on this phone"), own.push_enabled) : null),
    timeField("own-reminder_time", gettext("Reminder time"), own.reminder_time),
    h("fieldset", {}, h("legend", {}, gettext("Quiet hours: no messages between")),
      timeField("own-quiet_hours_start", gettext("From"), own.quiet_hours_start),
      timeField("own-quiet_hours_end", gettext("Until"), own.quiet_hours_end)),
    h("div", { class: "field" }, h("label", { for: "own-language" }, gettext("Language")),
      h("select", { id: "own-language", name: "language" },
        [["en", "English"], ["es", "Español"]].map(([code, name]) => h("option", { value: code, selected: own.language === code }, name)))),
    h("button", { type: "submit", class: "primary" }, gettext("Save")), status);
  if (!own.push_public_key) form.append(h("input", { type: "hidden", name: "push_enabled", value: "" }));

  screen(gettext("Settings"), heading(gettext("Settings")),
    h("section", { class: "card", "aria-labelledby": "h-own" }, h("h2", { id: "h-own" }, gettext("Your messages")), form),
    h("section", { class: "card" }, h("button", { type: "button", class: "secondary", onclick: () => signOut() }, gettext("Sign out"))));
}
