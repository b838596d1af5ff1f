// Who has looked at my record: the care team's reads and changes of it, newest first.

import { api, ApiError, isOffline } from "../../shared/api.js";
import { dateTime } from "../../shared/dates.js";
import { announce, h } from "../../shared/dom.js";
import { heading, link, message, screen } from "./frame.js";

function accessItem(entry, timeZone) {
  const team = [entry.who.role, entry.who.organization].filter(Boolean).join(", ");
  return h("li", { class: "msg access-entry" },
    h("h2", {}, entry.who.name),
    team ? h("p", { class: "help" }, team) : null,
    h("p", {}, entry.what),
    h("p", { class: "help" }, h("time", { datetime: entry.at }, dateTime(entry.at, timeZone))));
}

/** The care team's reads and changes of the patient's record, newest first, a page at a time. */
export async function accessLog(ctx) {
  const title = gettext("Who has looked at my record");
  const back = () => h("p", { class: "back" },
    link("/settings/", [h("span", { "aria-hidden": "true" }, "‹ "), gettext("Settings")]));
  screen(title, back(), heading(title), h("p", { class: "loading" }, gettext("Loading…")));
  let page;
  try {
    page = (await api("me/access-log/")).data;
  } catch (error) {
    if (error instanceof ApiError && error.signedOut) return ctx.signedOut();
    if (ctx.route.name !== "access") return;
    screen(title, back(), heading(title), message(isOffline(error)
      ? gettext("This list cannot be loaded while you are offline.")
      : gettext("This list could not be loaded. Please try again later.")));
    return;
  }
  if (ctx.route.name !== "access") return;
  const timeZone = ctx.state.me.time_zone;
  const list = h("ul", { class: "messages", role: "list", id: "access-log" },
    page.results.map((entry) => accessItem(entry, timeZone)));
  let next = page.next;
  const more = h("button", {
    type: "button", class: "secondary", id: "access-log-more", onclick: async () => {
      more.disabled = true;
      try {
        const { data } = await api(`me/access-log/${new URL(next, location.origin).search}`);
        list.append(...data.results.map((entry) => accessItem(entry, timeZone)));
        next = data.next;
        announce(gettext("Earlier entries added to the list."));
      } catch {
        announce(gettext("Something went wrong. Please try again."));
      }
      more.disabled = false;
      more.hidden = !next;
    },
  }, gettext("Show earlier entries"));
  more.hidden = !next;
  screen(
    title,
    back(),
    heading(title),
    h("p", { class: "help" }, gettext("Each time someone in your care team opens or changes your record, it is noted here.")),
    page.results.length
      ? list
      : h("p", { class: "empty" }, gettext("No one in your care team has looked at your record yet.")),
    more,
  );
}
