// Settings: when and how reminders come, the language and time zone, notifications on this
// phone, the patient's record, the people who help them (caregivers), and signing out.

import { api, isOffline } from "../../shared/api.js";
import { announce, h, lang, mount } from "../../shared/dom.js";
import { fmt } from "../i18n.js";
import * as push from "../push.js";
import { signOut, signOutEverywhere } from "../sign_out.js";
import { caregiversCard } from "./caregivers_card.js";
import { heading, link, main, screen } from "./frame.js";

function hhmm(value) {
  return (value || "").slice(0, 5);
}

function checkbox(name, label, checked, help) {
  return h("div", { class: "check" },
    h("input", { type: "checkbox", id: `f-${name}`, name, checked: Boolean(checked), "aria-describedby": help ? `f-${name}-help` : null }),
    h("label", { for: `f-${name}` }, label),
    help ? h("p", { class: "help", id: `f-${name}-help` }, help) : null);
}

/** A group of radio buttons with its own legend; each choice may carry a help line. */
function radioGroup(name, legend, current, choices) {
  return h("fieldset", { class: "choices", id: `f-${name}` },
    h("legend", {}, legend),
    ...choices.map(([value, label, help]) => h("div", { class: "check" },
      h("input", {
        type: "radio", id: `f-${name}-${value}`, name, value, checked: current === value,
        "aria-describedby": help ? `f-${name}-${value}-help` : null,
      }),
      h("label", { for: `f-${name}-${value}` }, label),
      help ? h("p", { class: "help", id: `f-${name}-${value}-help` }, help) : null)));
}

function timeField(name, label, value) {
  return h("div", { class: "field" },
    h("label", { for: `f-${name}` }, label),
    h("input", { type: "time", id: `f-${name}`, name, value: hhmm(value), required: true }));
}

// --- Notifications on this phone: one control whose words always match what will happen ---

function otherChannels(me) {
  const email = Boolean(me.email_enabled && me.contact_email);
  const inapp = Boolean(me.inapp_enabled);
  if (email && inapp) return gettext("You will still get reminders by email and in this app.");
  if (inapp) return gettext("You will still get reminders in this app.");
  if (email) return gettext("You will still get reminders by email.");
  return gettext("Turn on email or messages in this app above to get reminders.");
}

const PUSH_STATUS = {
  unavailable: () => gettext("Notifications are not available on this service yet."),
  offline: () => gettext("You need an internet connection to change this."),
  "ios-home-screen": () => gettext("On iPhone and iPad, notifications work only after you add this app to your Home Screen."),
  unsupported: () => gettext("This browser cannot show notifications."),
  denied: () => gettext("Notifications are blocked for this app in your browser's settings."),
  on: () => gettext("Notifications are on for this phone."),
  off: () => gettext("Notifications are off for this phone."),
};

/** Advice for this phone's platform only: nobody on Android reads about the iPhone's Share button. */
function pushAdvice(state, where) {
  if (state === "ios-home-screen") {
    return gettext("In Safari, tap the Share button, then “Add to Home Screen”. Open the app from your Home Screen and come back to this page to turn notifications on.");
  }
  if (state === "denied") {
    if (where === "ios") return gettext("To allow them, open the Settings app, tap Notifications, choose this app and turn on “Allow Notifications”.");
    if (where === "android") return gettext("To allow them, tap the icon next to the web address (for the app on your Home Screen: touch and hold its icon, then tap “App info”), open Notifications or Permissions and allow notifications. Then come back here.");
    return gettext("To allow them, click the icon at the left of the web address, set Notifications to “Allow”, then reload this page.");
  }
  if (state === "unsupported") {
    if (where === "ios") return gettext("Notifications need iOS 16.4 or later.");
    if (where === "android") return gettext("Chrome or Firefox on this phone can show them.");
  }
  return null;
}

function pushFailure(error) {
  switch (error.reason) {
    case "dismissed":
      return gettext("You closed the question without allowing notifications. Tap “Turn on notifications” to be asked again.");
    case "denied":
      return gettext("Notifications were blocked, so they could not be turned on.");
    case "offline":
      return gettext("You are offline, so notifications could not be turned on. Try again when you are connected.");
    case "server":
      return fmt(gettext("The app could not save this phone for notifications (error %(status)s). Please try again later."), { status: error.detail || "?" });
    default:
      return gettext("This browser could not register with its notification service, so notifications cannot be turned on here. This happens when the browser has that service switched off or blocked; trying again will not help until that changes.");
  }
}

async function pushSection(ctx) {
  const section = h("section", { class: "card push", id: "push", "aria-labelledby": "h-push" });
  const where = push.platform();

  async function draw({ failure = null, focus = false } = {}) {
    const me = ctx.state.me;
    const { state, key } = await push.state(me);
    const status = h("p", { class: "push-status", role: "status", tabindex: "-1" }, PUSH_STATUS[state]());
    const advice = pushAdvice(state, where);
    let button = null;
    if (state === "off") {
      button = h("button", {
        type: "button", class: "secondary", onclick: async () => {
          button.disabled = true;
          try {
            ctx.state.me = await push.turnOn(key, ctx.state.me);
            await draw({ focus: true });
            announce(gettext("Notifications are on for this phone."));
          } catch (error) {
            await draw({ failure: error, focus: true });
          }
        },
      }, gettext("Turn on notifications"));
    } else if (state === "on") {
      button = h("button", {
        type: "button", class: "secondary", onclick: async () => {
          button.disabled = true;
          await push.unsubscribe().catch(() => {});
          await draw({ focus: true });
          announce(gettext("Notifications are off for this phone."));
        },
      }, gettext("Turn off notifications"));
    }
    const problem = failure
      ? h("div", { class: "notice notice-problem push-error", role: "alert" },
        h("p", {}, pushFailure(failure)),
        failure.reason === "service" && failure.detail
          ? h("p", { class: "help" }, fmt(gettext("The browser said: %(detail)s"), { detail: failure.detail }))
          : null,
        h("p", {}, otherChannels(me)))
      : null;
    section.dataset.pushState = state;
    mount(section,
      h("h2", { id: "h-push" }, gettext("Notifications on this phone")),
      status,
      advice ? h("p", { class: "help push-advice" }, advice) : null,
      button,
      problem,
      !problem && state !== "on" && state !== "off" ? h("p", { class: "help push-channels" }, otherChannels(me)) : null);
    if (focus) status.focus();
  }

  await draw();
  // Unblocked (or blocked) in the browser's settings while this screen is open: say so at once.
  push.onPermissionChange(() => { if (section.isConnected) draw(); });
  return section;
}

/** The private calendar link: made here, shown once with its QR code; a new one stops the old. */
async function calendarSection() {
  const section = h("section", { class: "card", id: "calendar-feed", "aria-labelledby": "h-calendar" });
  const status = h("p", { class: "save-status", role: "status" });
  let state = { active: false, detail: "titles" };
  try { ({ data: state } = await api("me/calendar-feed/")); } catch { /* offline: offer to make one */ }

  function draw(made = null) {
    const detail = radioGroup("feed_detail", gettext("What your calendar shows"), state.detail, [
      ["titles", gettext("The names of the steps"), null],
      ["private", gettext("Only “Surgery preparation step”"),
        gettext("Choose this if other people can see your calendar.")],
    ]);
    detail.addEventListener("change", async () => {
      const choice = detail.querySelector("input:checked").value;
      if (!state.active) { state.detail = choice; return; }
      try {
        ({ data: state } = await api("me/calendar-feed/", { method: "PATCH", body: { detail: choice } }));
        status.textContent = gettext("Saved.");
      } catch { status.textContent = gettext("This could not be saved. Please try again."); }
    });
    const make = h("button", { type: "button", class: "secondary", id: "make-calendar-link", onclick: async () => {
      make.disabled = true;
      try {
        const choice = detail.querySelector("input:checked").value;
        const { data } = await api("me/calendar-feed/", { method: "POST", body: { detail: choice } });
        state = data;
        draw(data);
      } catch (error) {
        status.textContent = isOffline(error)
          ? gettext("You need an internet connection to change this.")
          : gettext("This could not be saved. Please try again.");
        make.disabled = false;
      }
    } }, state.active ? gettext("Make a new link") : gettext("Make my calendar link"));
    mount(section,
      h("h2", { id: "h-calendar" }, gettext("Your dates in your phone's calendar")),
      h("p", { class: "help" }, gettext("Your phone's calendar can follow your dates: when your surgery moves, they move too.")),
      detail,
      made
        ? h("div", { class: "notice", id: "calendar-link" },
          h("p", {}, h("a", { href: made.webcal_url, class: "button primary", id: "subscribe-link" }, gettext("Add to my calendar"))),
          h("p", { class: "help" }, gettext("On a computer, scan this code with your phone's camera:")),
          h("img", { src: made.qr_code, alt: gettext("QR code of your calendar link"), width: "180", height: "180", id: "calendar-qr" }),
          h("p", { class: "help" }, gettext("This link is shown only now. Keep it private: anyone with it can see these dates.")))
        : h("p", { class: "help" }, state.active
          ? gettext("You have a calendar link. To add it to another phone, make a new link: the old one stops working.")
          : gettext("No calendar link yet.")),
      make,
      status);
  }
  draw();
  return section;
}

export async function settings(ctx) {
  const me = ctx.state.me;
  const status = h("p", { class: "save-status", role: "status" });
  const deviceZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const form = h(
    "form", { class: "stack", onsubmit: (event) => { event.preventDefault(); submit(); } },
    h("fieldset", {},
      h("legend", {}, gettext("Reminders")),
      timeField("reminder_time", gettext("Time of day for reminders"), me.reminder_time),
      h("p", { class: "help" }, gettext("No reminders are sent during quiet hours.")),
      timeField("quiet_hours_start", gettext("Quiet hours start"), me.quiet_hours_start),
      timeField("quiet_hours_end", gettext("Quiet hours end"), me.quiet_hours_end)),
    h("fieldset", {},
      h("legend", {}, gettext("How to remind me")),
      // Notifications on this phone have their own control below: it knows what this phone can do.
      checkbox("email_enabled", gettext("Email"), me.email_enabled, me.contact_email || null),
      checkbox("inapp_enabled", gettext("Messages in this app"), me.inapp_enabled),
      radioGroup("channel_policy", gettext("Notifications and email"), me.channel_policy || "push_then_email", [
        ["push_then_email", gettext("Notifications, and email only when a notification did not reach me"),
          gettext("If a notification cannot be delivered to this phone, the same message comes by email within minutes.")],
        ["both", gettext("Both notifications and email"), null],
      ]),
      radioGroup("reminder_style", gettext("How many messages"), me.reminder_style || "digest", [
        ["digest", gettext("One message a day with everything that is due"),
          gettext("Important steps, like stopping certain medicines, are also sent on their own.")],
        ["per_step", gettext("One message for each step"), null],
      ])),
    h("fieldset", {},
      h("legend", {}, gettext("Language and time zone")),
      h("div", { class: "field" },
        h("label", { for: "f-language" }, gettext("Language")),
        h("select", { id: "f-language", name: "language" },
          h("option", { value: "en", selected: me.language === "en", lang: "en" }, "English"),
          h("option", { value: "es", selected: me.language === "es", lang: "es" }, "Español"))),
      h("p", {}, fmt(gettext("Time zone: %(zone)s"), { zone: me.time_zone })),
      deviceZone && deviceZone !== me.time_zone
        ? checkbox("use_device_zone", fmt(gettext("Use this phone's time zone (%(zone)s)"), { zone: deviceZone }), false)
        : null),
    h("button", { type: "submit", class: "primary" }, gettext("Save my settings")),
    status,
  );

  async function submit() {
    const data = new FormData(form);
    const body = {
      reminder_time: data.get("reminder_time"),
      quiet_hours_start: data.get("quiet_hours_start"),
      quiet_hours_end: data.get("quiet_hours_end"),
      email_enabled: data.has("email_enabled"),
      inapp_enabled: data.has("inapp_enabled"),
      channel_policy: data.get("channel_policy") || "push_then_email",
      reminder_style: data.get("reminder_style") || "digest",
      language: data.get("language"),
    };
    if (data.has("use_device_zone")) body.time_zone = deviceZone;
    try {
      const { data: saved } = await api("me/", { method: "PATCH", body });
      ctx.state.me = saved;
      if (saved.language !== lang) {
        // The whole app, its cached copy included, is drawn again in the new language.
        location.reload();
        return;
      }
      status.textContent = gettext("Your settings have been saved.");
    } catch (error) {
      status.textContent = isOffline(error)
        ? gettext("You need an internet connection to change your settings.")
        : gettext("Your settings could not be saved. Please check the times and try again.");
    }
  }

  const accessCard = h("section", { class: "card", "aria-labelledby": "h-access" },
    h("h2", { id: "h-access" }, gettext("Your record")),
    h("p", { class: "help" }, gettext("See who in your care team has opened or changed your record, and when.")),
    h("p", {}, link("/access/", gettext("Who has looked at my record"), { class: "button secondary", id: "access-log-link" })),
    h("p", { class: "help" }, gettext("You can also keep a copy of everything this service holds about you, as a file.")),
    h("p", {}, h("a", { href: "/api/v1/me/export/", download: "", class: "button secondary", id: "export-link" },
      gettext("Download all my data"))));
  screen(gettext("Settings"), heading(gettext("Settings")), form, accessCard, h("p", { class: "help" }, gettext("Loading…")));
  const pushBox = await pushSection(ctx);
  const calendarBox = await calendarSection();
  if (ctx.route.name !== "settings") return;
  main().lastElementChild.replaceWith(pushBox);
  pushBox.after(calendarBox);
  const helpers = await caregiversCard();
  if (ctx.route.name !== "settings") return;
  main().append(helpers);
  const everywhereStatus = h("p", { class: "save-status", role: "status" });
  const everywhere = h("button", {
    type: "button", class: "secondary", onclick: async () => {
      everywhere.disabled = true;
      // Only a failure comes back: on success the app starts again, signed out.
      everywhereStatus.textContent = await signOutEverywhere();
      everywhere.disabled = false;
    },
  }, gettext("Sign out on all my devices"));
  main().append(
    h("section", { class: "card", "aria-labelledby": "h-signout" },
      h("h2", { id: "h-signout" }, gettext("Sign out")),
      h("p", { class: "help" }, gettext("To sign in again, ask your care team for a new code, or ask for a sign-in link by email.")),
      h("button", { type: "button", class: "secondary", onclick: () => signOut() }, gettext("Sign out of this phone")),
      h("p", { class: "help" }, gettext("Lost a phone, or signed in on a computer that is not yours? This signs you out everywhere, on this phone too.")),
      everywhere,
      everywhereStatus),
  );
}
