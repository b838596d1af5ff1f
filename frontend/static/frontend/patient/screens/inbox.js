// Messages: the reminders and notes sent to the patient in the app, newest first.

import { api, ApiError, isOffline } from "../../shared/api.js";
import { dateTime } from "../../shared/dates.js";
import { announce, h } from "../../shared/dom.js";
import { heading, message, screen } from "./frame.js";

export async function inbox(ctx) {
  screen(gettext("Messages"), heading(gettext("Messages")), h("p", { class: "loading" }, gettext("Loading…")));
  let items = null;
  let unavailable = false;
  try {
    const { data } = await api("me/inbox/");
    items = Array.isArray(data) ? data : (data && data.results) || [];
  } catch (error) {
    if (isOffline(error)) unavailable = "offline";
    else if (error instanceof ApiError && error.signedOut) return ctx.signedOut();
    else unavailable = "missing";
  }
  if (ctx.route.name !== "inbox") return;
  const unread = (items || []).filter((m) => !m.read_at).length;

  const list = (items || []).map((m) => {
    const taskId = (m.task && typeof m.task === "object" ? m.task.id : m.task) ?? m.task_id;
    const open = async (event) => {
      event.preventDefault();
      if (!m.read_at) await api(`me/inbox/${m.id}/read/`, { method: "POST" }).catch(() => {});
      ctx.refreshBadge();
      ctx.go(taskId ? `/tasks/${taskId}/` : "/inbox/");
    };
    return h("li", { class: `msg${m.read_at ? "" : " is-unread"}` },
      h("h2", {}, m.read_at ? null : h("span", { class: "new" }, gettext("New")), m.title),
      h("p", {}, m.body),
      h("p", { class: "help" }, dateTime(m.created_at, ctx.state.me.time_zone)),
      taskId
        ? h("a", { href: `/tasks/${taskId}/`, class: "button secondary", onclick: open }, gettext("Open this step"))
        : m.read_at ? null : h("button", { type: "button", class: "secondary", onclick: open }, gettext("Mark as read")));
  });

  const readAll = async () => {
    await api("me/inbox/read-all/", { method: "POST" }).catch(() => {});
    await ctx.refreshBadge();
    announce(gettext("All messages marked as read."));
    inbox(ctx);
  };
  screen(
    gettext("Messages"),
    heading(gettext("Messages")),
    unavailable === "offline" ? message(gettext("Your messages cannot be loaded while you are offline.")) : null,
    unread ? h("button", { type: "button", class: "primary", onclick: readAll }, gettext("Mark all as read")) : null,
    list.length
      ? h("ul", { class: "messages", role: "list" }, list)
      : unavailable === "offline" ? null : h("p", { class: "empty" }, gettext("No messages yet. Reminders about your steps will appear here.")),
  );
}
