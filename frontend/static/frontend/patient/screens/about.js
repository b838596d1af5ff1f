// About your surgery: what the operation is, in plain words, one page per topic (the patient's
// own approach first), and the words explained. The texts are the protocol version's; offline
// they are drawn from the last answer the phone saved.

import { h } from "../../shared/dom.js";
import { fmt, whose } from "../i18n.js";
import { loadAbout, yourOperation } from "./about_data.js";
import { heading, link, message, screen } from "./frame.js";
import { withTerms } from "./terms.js";

const WORDS = "words";

const backTo = (href, text) => h("p", { class: "back" }, link(href, [h("span", { "aria-hidden": "true" }, "‹ "), text]));

function index(about) {
  const title = whose(gettext("About your surgery"), gettext("About %(name)s's surgery"));
  const operation = yourOperation(about);
  screen(title, backTo("/", gettext("Home")), heading(title),
    about.procedure ? h("p", { class: "lead" }, about.procedure) : null,
    operation
      ? h("section", { class: "card your-operation", "aria-labelledby": "h-yours" },
        h("h2", { id: "h-yours" }, whose(gettext("Your operation"), gettext("%(name)s's operation"))),
        h("p", { class: "operation" }, operation))
      : null,
    h("nav", { "aria-label": gettext("Topics") },
      h("ul", { class: "tasks topics", role: "list" },
        about.pages.map((page) => h("li", {},
          link(`/about/${page.key}/`, [
            page.key === about.your_page ? h("span", { class: "cat yours" }, whose(gettext("Your approach"), gettext("%(name)s's approach"))) : null,
            h("span", { class: "task-title" }, page.title)], { class: "task" }))),
        h("li", {}, link(`/about/${WORDS}/`, h("span", { class: "task-title" }, gettext("Words explained")),
          { class: "task topic-words" })))));
}

function table(page) {
  if (!page.table.length) return null;
  return h("table", { class: "compare" },
    h("caption", {}, gettext("Small cuts compared with open surgery")),
    h("thead", {}, h("tr", {}, h("td", {}),
      h("th", { scope: "col" }, gettext("Minimally invasive")), h("th", { scope: "col" }, gettext("Open surgery")))),
    h("tbody", {}, page.table.map((row) => h("tr", {},
      h("th", { scope: "row" }, row.label), h("td", {}, row.minimally_invasive), h("td", {}, row.open)))));
}

function stageList(page) {
  if (!page.stages.length) return null;
  return h("ol", { class: "stages-glance" }, page.stages.map((stage) => h("li", {}, stage.label)));
}

function onePage(about, page) {
  const seen = new Set();
  const pages = about.pages;
  const next = pages[pages.indexOf(page) + 1];
  const yours = page.key === about.your_page;
  screen(page.title, backTo("/about/", whose(gettext("About your surgery"), gettext("About %(name)s's surgery"))),
    yours ? h("p", { class: "yours" }, whose(gettext("Your approach"), gettext("%(name)s's approach"))) : null,
    heading(page.title),
    yours && about.level ? h("p", { class: "lead" }, whose(gettext("Your level: %(level)s"), gettext("%(name)s's level: %(level)s"), { level: about.level })) : null,
    page.paragraphs.map((text) => withTerms("p", { class: "about-text" }, text, about.glossary, seen)),
    table(page),
    stageList(page),
    h("p", { class: "source" }, fmt(gettext("Where this comes from: the patient guide, “%(section)s”."), { section: page.source_section })),
    next
      ? h("p", { class: "next" }, link(`/about/${next.key}/`, fmt(gettext("Next: %(title)s"), { title: next.title }), { class: "button secondary" }))
      : h("p", { class: "next" }, link(`/about/${WORDS}/`, gettext("Next: the words explained"), { class: "button secondary" })));
}

function words(about) {
  const title = gettext("Words explained");
  const sorted = [...about.glossary].sort((a, b) => a.term.localeCompare(b.term, document.documentElement.lang));
  screen(title, backTo("/about/", whose(gettext("About your surgery"), gettext("About %(name)s's surgery"))), heading(title),
    h("dl", { class: "glossary" }, sorted.map((entry) => [
      h("dt", { id: `term-${entry.key}`, tabindex: "-1" }, entry.term),
      h("dd", {}, entry.text),
      h("dd", { class: "source" }, fmt(gettext("From the patient guide: “%(section)s”."), { section: entry.source_section }))])));
  const target = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
  if (target) target.scrollIntoView();
}

export async function aboutSurgery(ctx, key) {
  const about = await loadAbout(ctx);
  const title = whose(gettext("About your surgery"), gettext("About %(name)s's surgery"));
  if (!about) {
    screen(title, backTo("/", gettext("Home")), heading(title),
      message(gettext("These pages have not been saved on this phone yet. Open them once with an internet connection."), "problem"));
    return;
  }
  const saved = ctx.state.aboutSaved ? message(gettext("You are offline. These pages were saved on this phone."), "saved") : null;
  const page = about.pages.find((p) => p.key === key);
  if (key === WORDS) words(about);
  else if (page) onePage(about, page);
  else index(about);
  if (saved) document.querySelector("#main h1").before(saved);
}
