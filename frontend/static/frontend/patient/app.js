// The patient app: routing between screens, the data they show, the changes waiting to be sent,
// the unread badge and the service worker. The screens themselves live in screens/ (each loaded
// when first opened), ticking off in ticks.js (with the step's screen), signing in and out with
// their screens, the checklist's two parts are joined in checklist_data.js, and what is left is
// the one router that ties them together, for a caregiver's followed patient too.

import { api, ApiError, csrfToken, forgetEarlyReads, isOffline } from "../shared/api.js";
import { daysBetween } from "../shared/dates.js";
import { announce, h } from "../shared/dom.js";
import { loadChecklistParts, startEarly } from "./checklist_data.js";
import { fmt, withStrings } from "./i18n.js";
import * as outbox from "./outbox.js";
import { loadAbout } from "./screens/about_data.js";
import { speakOf } from "./screens/caregivers.js";
import { focusHeading, showCallButton } from "./screens/frame.js";
import { notSaved, staffOnly } from "./screens/unavailable.js";

// Every screen is loaded when first opened, and Web Push when first needed (each is kept by the
// service worker for offline use all the same); the shell preloads the screen its address opens.
const push = () => import("./push.js");
const SCREENS = {
  settings: () => withStrings("settings", import("./screens/settings.js")).then((m) => m.settings),
  // A caregiver's own settings and messages (screens/caregiver_own.js), not the patient's.
  caregiverSettings: () => withStrings("caregiver_own", import("./screens/caregiver_own.js")).then((m) => m.caregiverSettings),
  familyInbox: () => withStrings("caregiver_own", import("./screens/caregiver_own.js")).then((m) => m.familyInbox),
  access: () => withStrings("access_log", import("./screens/access_log.js")).then((m) => m.accessLog),
  health: () => withStrings("health_check", import("./screens/health_check.js")).then((m) => m.healthCheck),
  inbox: () => withStrings("inbox", import("./screens/inbox.js")).then((m) => m.inbox),
  call: () => withStrings("when_to_call", import("./screens/when_to_call.js")).then((m) => m.whenToCall),
  about: () => withStrings("about", import("./screens/about.js")).then((m) => m.aboutSurgery),
  checkin: () => withStrings("check_in", import("./screens/check_in.js")).then((m) => m.checkIn),
};
const stepScreen = () => withStrings("step", import("./screens/step.js"));
const homeScreen = () => withStrings("home", import("./screens/home.js"));
const signInScreen = () => withStrings("sign_in", import("./screens/sign_in.js"));
const showSignIn = (ctx, problems) => signInScreen().then((m) => m.signIn(ctx, problems));

const ROUTES = [
  [/^\/$/, "home"],
  [/^\/tasks\/(\d+)\/?$/, "task"],
  [/^\/inbox\/?$/, "inbox"],
  [/^\/settings\/?$/, "settings"],
  [/^\/access\/?$/, "access"],
  [/^\/health-check\/?$/, "health"],
  [/^\/when-to-call\/?$/, "call"],
  [/^\/check-in\/?$/, "checkin"],
  [/^\/about\/(?:([a-z0-9-]+)\/?)?$/, "about"],
  [/^\/join\/?$/, "join"],
  [/^\/join\/([^/]+)\/?$/, "oldJoin"],
  [/^\/signin\/?$/, "signin"],
];

// safety: the last me/safety/ answer; safetySavedAt: null when fresh, else when the saved copy was made ("" unknown).
// about: the last me/about/ answer (the protocol's pages and glossary, for the step's words too).
// For a caregiver, following is the patient shown (of those followed) and me is a stand-in with no patient's data.
// The safety card's and About's reads, when a patient's shell let them start alongside me/.
let earlyReads = null;
const state = {
  me: null, checklist: null, caseData: null, safety: null, safetySavedAt: null, about: null, following: null, followed: [],
};

/** Where a screen's data comes from: the patient's own me/…, or following/<id>/… for a caregiver. */
function source(path) {
  return state.following ? `following/${state.following.id}/${path}` : `me/${path}`;
}

function match(pathname) {
  for (const [pattern, name] of ROUTES) {
    const found = pathname.match(pattern);
    if (found) return { name, param: found[1] };
  }
  return { name: "home" };
}

const ctx = {
  state,
  route: match(location.pathname),

  go(path, { replace = false } = {}) {
    history[replace ? "replaceState" : "pushState"]({}, "", path);
    ctx.route = match(new URL(path, location.href).pathname);
    window.scrollTo(0, 0);
    return ctx.render({ focus: true });
  },

  /** All tasks, each as the patient last left it (waiting changes applied). */
  tasks() {
    if (!state.checklist) return [];
    return Object.values(state.checklist.groups).flat().map(outbox.overlay);
  },

  task(id) {
    return ctx.tasks().find((t) => t.id === Number(id));
  },

  /** The home screen's sections, recomputed here so that offline changes move tasks at once. */
  groups() {
    const today = state.checklist.today;
    const groups = { overdue: [], this_week: [], coming_up: [], done: [] };
    for (const task of ctx.tasks()) {
      let name = "coming_up";
      if (task.status === "done") name = "done";
      else if (task.due_date < today) name = "overdue";
      else if (daysBetween(today, task.due_date) <= 6) name = "this_week";
      groups[name].push(task);
    }
    const byDue = (a, b) => (a.due_date < b.due_date ? -1 : a.due_date > b.due_date ? 1 : a.id - b.id);
    groups.overdue.sort(byDue);
    groups.this_week.sort(byDue);
    groups.coming_up.sort(byDue);
    groups.done.sort((a, b) => String(b.completed_at || "").localeCompare(String(a.completed_at || "")));
    return groups;
  },

  // Ticking off and saving a step's answers are the step screen's (ticks.js, loaded with it).
  source,
  sync,
  replaceTask,
  showProblem,
  enter,

  /** The safety card (rules, warning signs, day of surgery, check-in); kept when it cannot be had. */
  async loadSafety() {
    try {
      const { data, cached, savedAt } = await api(source("safety/"));
      state.safety = data;
      state.safetySavedAt = cached ? savedAt || "" : null;
    } catch (error) {
      if (!state.safety) state.safetySavedAt = null;
    }
    showCallButton(Boolean(state.safety && state.safety.phase === "recovery"));
    return state.safety;
  },

  /** A caregiver chooses whose plan to show (of the patients they follow). */
  async follow(id) {
    state.following = state.followed.find((f) => f.id === id) || state.following;
    speakOf(state.following);
    state.checklist = state.safety = state.caseData = state.about = null;
    await ctx.go("/", { replace: true });
  },

  // Signing in with a code or a link, and asking for one (sign_in.js, with the sign-in screen).
  signIn: (code) => signInScreen().then((m) => m.redeemCode(ctx, code)),
  /** A link of an older email, its code in the path: the sign-in screen, asking for the code typed. */
  oldLink() {
    history.replaceState({}, "", "/");
    ctx.route = match("/");
    return signInScreen().then((m) => ctx.signedOut({ error: m.oldLinkText() }));
  },
  redeemLink: (token) => signInScreen().then((m) => m.redeemLink(ctx, token)),

  signedOut(problems = {}) {
    state.me = state.checklist = state.caseData = state.safety = state.about = null;
    showCallButton(false);
    document.body.classList.add("signed-out");
    return showSignIn(ctx, problems);
  },

  async refreshBadge() {
    const badge = document.getElementById("unread-badge");
    let count = 0;
    try {
      const { data } = await api("me/inbox/unread-count/");
      count = (data && data.unread) || 0;
    } catch {
      return;
    }
    // The number shows; "unread" is for screen readers, so the link reads "Messages 2 unread".
    badge.replaceChildren(String(count), h("span", { class: "visually-hidden" }, ` ${gettext("unread")}`));
    badge.hidden = !count;
    if ("setAppBadge" in navigator) (count ? navigator.setAppBadge(count) : navigator.clearAppBadge()).catch(() => {});
  },

  async render({ focus = false } = {}) {
    const route = ctx.route;
    markNav(route.name);
    // The invitation's code and the link's token are in the fragment ("/join/#CODE",
    // "/signin/#token"), which never reaches a server; each leaves the address bar at once.
    if (route.name === "join") {
      const code = takeFragment();
      return code ? ctx.signIn(code) : ctx.signedOut();
    }
    if (route.name === "signin") return ctx.redeemLink(takeFragment());
    // A code in the path or the query (older emails) has been in a server's log: never redeemed, typed instead.
    if (route.name === "oldJoin" || new URLSearchParams(location.search).has("code")) return ctx.oldLink();
    // Online, a shell that says nobody is signed in is fresh from the server: the sign-in screen
    // at once, without asking me/ for a 401. Offline it may be an old copy: me/ (saved) decides.
    if (!state.me && document.body.dataset.session === "none" && navigator.onLine) {
      delete document.body.dataset.session;
      return ctx.signedOut();
    }
    // A patient's shell (a hint only): their checklist's two parts are asked for alongside me/.
    if (!state.me && document.body.dataset.session === "patient") {
      delete document.body.dataset.session;
      if (route.name === "home" || route.name === "task") {
        startEarly("me/checklist/state/", document.body.dataset.texts);
        earlyReads = [ctx.loadSafety(), loadAbout(ctx)];
      }
    }
    if (!state.me && !(await loadMe())) {
      earlyReads = null;
      return;
    }
    // A caregiver sees the plan, a step, When to call, and their own messages and settings.
    if (state.following && !["home", "task", "call", "about", "inbox", "settings"].includes(route.name)) route.name = "home";
    // The header's "When to call" follows the phase on every screen.
    if (!state.safety && !["home", "task", "call", "checkin"].includes(route.name)) ctx.loadSafety();
    const screenName = state.following ? ({ settings: "caregiverSettings", inbox: "familyInbox" }[route.name] || route.name) : route.name;
    if (SCREENS[screenName]) await (await SCREENS[screenName]())(ctx, route.param);
    else {
      // The about answer gives the step's words their meanings; home links to its pages.
      const [safetyRead, aboutRead] = earlyReads || [ctx.loadSafety(), state.about || loadAbout(ctx)];
      earlyReads = null;
      const [loaded, , , drawn] = await Promise.all([
        state.checklist || loadChecklist(), safetyRead, aboutRead, route.name === "task" ? stepScreen() : homeScreen(),
      ]);
      if (!loaded) return;
      // Another screen was opened while this one waited for its data: that one is drawn, not this.
      if (ctx.route !== route) return;
      if (route.name === "task") drawn.step(ctx, route.param);
      else drawn.home(ctx);
    }
    if (focus) focusHeading();
  },
};

/** "/#/tasks/12" and "/tasks/12/" both lead to the step's screen. */
export function appPath(url) {
  const parsed = new URL(url, location.origin);
  return parsed.hash.startsWith("#/") ? parsed.hash.slice(1) : parsed.pathname;
}

/** The fragment's code or token, taken out of the address bar and the history, whatever happens next. */
function takeFragment() {
  const value = decodeURIComponent(location.hash.slice(1));
  history.replaceState({}, "", "/");
  ctx.route = match("/");
  return value;
}

function signedIn(patient) {
  state.me = patient;
  document.body.classList.remove("signed-out");
  push().then((p) => p.shareWithWorker({ csrf: csrfToken() })).catch(() => {});
}

/** Just signed in, with a code or a link: on to the home screen. */
async function enter(patient) {
  signedIn(patient);
  if (patient.language !== document.documentElement.lang) {
    // The shell is drawn on the server in the patient's language.
    location.replace("/");
    return;
  }
  await ctx.go("/", { replace: true });
}

function replaceTask(fresh) {
  for (const list of Object.values(state.checklist.groups)) {
    const index = list.findIndex((t) => t.id === fresh.id);
    if (index >= 0) list[index] = fresh;
  }
}

function showProblem(text) {
  const box = document.getElementById("problem");
  box.textContent = text;
  box.hidden = false;
  setTimeout(() => { box.hidden = true; }, 8000);
}

async function loadMe() {
  try {
    const { data } = await api("me/");
    if (data.kind === "caregiver") {
      state.followed = data.following;
      state.following = data.following[0];
      speakOf(state.following);
      document.body.classList.add("caregiver");
      signedIn({ language: document.documentElement.lang, time_zone: null });
      return true;
    }
    if (data.kind !== "patient") {
      staffOnly();
      return false;
    }
    signedIn(data.patient);
    return true;
  } catch (error) {
    if (isOffline(error)) notSaved();
    else ctx.signedOut();
    return false;
  }
}

async function loadChecklist() {
  try {
    const { data } = await loadChecklistParts(source("checklist/state/"));
    state.checklist = data;
    state.caseData = data.case;
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      state.checklist = null;
      try {
        state.caseData = (await api("me/case/")).data;
      } catch {
        state.caseData = null;
      }
      (await homeScreen()).home(ctx);
      return false;
    }
    if (error instanceof ApiError && error.signedOut) ctx.signedOut();
    else notSaved();
    return false;
  }
}

function markNav(name) {
  for (const link of document.querySelectorAll(".tabs a")) {
    // A step belongs to the home tab, the access log to settings (where its link is).
    const parent = { task: "home", access: "settings", health: "home", call: "home", checkin: "home", about: "home" }[name];
    if (link.dataset.route === name || link.dataset.route === parent) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

// --- Banners: offline, and changes waiting to be sent ----------------------------------------

function showConnection() {
  document.getElementById("offline").hidden = navigator.onLine;
}

function showWaiting() {
  const count = outbox.pending().length;
  const box = document.getElementById("sync");
  box.hidden = !count;
  box.textContent = count
    ? fmt(ngettext("%(count)s change waiting to be sent", "%(count)s changes waiting to be sent", count), { count })
    : "";
}

async function sync() {
  if (!navigator.onLine || !outbox.pending().length) return;
  const { sent, refused } = await outbox.flush();
  if (refused.length) showProblem(gettext("Some changes could not be sent because your checklist has changed."));
  if (sent || refused.length) {
    announce(gettext("All changes have been sent."));
    await loadChecklist();
    if (ctx.route.name === "home" || ctx.route.name === "task") ctx.render();
  }
}

outbox.events.addEventListener("change", showWaiting);
window.addEventListener("online", () => { showConnection(); sync(); ctx.refreshBadge(); });
window.addEventListener("offline", showConnection);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && state.me) { sync(); ctx.refreshBadge(); }
});
window.addEventListener("popstate", () => { ctx.route = match(location.pathname); ctx.render({ focus: true }); });
document.addEventListener("click", (event) => {
  const a = event.target.closest("a[data-link], .tabs a");
  if (!a || event.defaultPrevented || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  ctx.go(a.getAttribute("href"));
});

// --- Service worker ------------------------------------------------------------------------------

// Registered once the first screen is drawn (below): its install downloads every file of the
// app, which would otherwise compete with the first screen's own.
function registerWorker() {
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
}

if ("serviceWorker" in navigator) {
  // On the first visit the data was fetched before the worker took over: fetch it again
  // through the worker so that it is on the phone for the next time there is no signal.
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (!state.me) return;
    const texts = state.checklist && state.checklist.texts_url;
    for (const path of ["me/", "me/checklist/state/", "me/case/", "me/safety/", "me/about/"]) api(path).catch(() => {});
    if (texts) api(new URL(texts, location.origin).href).catch(() => {});
  });
  navigator.serviceWorker.addEventListener("message", (event) => {
    const data = event.data || {};
    if (data.type === "inbox") ctx.refreshBadge();
    if (data.type === "navigate" && data.url) ctx.go(appPath(data.url));
  });
}

// Links in reminders may use the "/#/tasks/12" form; they mean the same screen.
function followHashLink() {
  if (!location.hash.startsWith("#/")) return false;
  history.replaceState({}, "", location.hash.slice(1));
  ctx.route = match(location.pathname);
  return true;
}
window.addEventListener("hashchange", () => { if (followHashLink()) ctx.render({ focus: true }); });
followHashLink();
showConnection();
showWaiting();
const firstScreen = ctx.render();
firstScreen.then(() => {
  if (state.me) {
    ctx.refreshBadge();
    sync();
  }
});
firstScreen.catch(() => {}).then(() => {
  forgetEarlyReads();
  registerWorker();
});
setInterval(() => { if (state.me && document.visibilityState === "visible") ctx.refreshBadge(); }, 60000);
