// The safety net on a patient's page (patients/{id}/safety/): the rules in force, with "Lift"
// (a note, then a confirmation) and "Reinstate"; the check-ins with their red flags, the pain
// trend drawn here as a small SVG (with the same figures as a table for screen readers); and
// the blood thinner restart.

import { api, ApiError } from "../shared/api.js";
import { shortDate, shortDateTime } from "../shared/dates.js";
import { h } from "../shared/dom.js";
import { L, announce, fill } from "./page.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

// --- Rules ----------------------------------------------------------------------------------------

function ruleRow(rule, patientId, redraw) {
  const until = rule.until_lifted ? L.rule_until_lifted : rule.end_date ? fill(L.rule_ends, { date: shortDate(rule.end_date) }) : "";
  const item = h("li", { class: `rule-item${rule.lifted ? " is-lifted" : ""}`, "data-rule": rule.key },
    h("p", {}, h("strong", {}, rule.title), " ",
      rule.lifted ? h("span", { class: "badge badge--muted" }, L.rule_lifted) : null,
      rule.conditional ? [" ", h("span", { class: "badge badge--outline" }, L.conditional)] : null),
    h("p", { class: "meta" }, until),
    rule.lifted
      ? h("p", { class: "meta" }, fill(L.rule_lifted_by, { who: rule.lifted_by || "—", when: shortDateTime(rule.lifted_at) }))
      : null);
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  const fail = (e) => {
    if (!(e instanceof ApiError)) throw e;
    error.textContent = e.offline ? L.network_error : Object.values(e.data || {}).flat().join(" ") || e.message;
    error.hidden = false;
  };
  if (rule.lifted) {
    item.append(h("button", {
      type: "button", class: "button", "data-reinstate": rule.key,
      onclick: async (event) => {
        event.currentTarget.disabled = true;
        try {
          await api(`patients/${patientId}/rules/${rule.key}/reinstate/`, { method: "POST", body: {} });
          announce(fill(L.rule_reinstated, { title: rule.title }));
          await redraw();
        } catch (e) { event.target.disabled = false; fail(e); }
      },
    }, L.reinstate), error);
  } else if (rule.can_lift) {
    const noteId = `lift-note-${rule.key}`;
    // The note and the confirmation show once "Lift…" is pressed: the list stays short.
    const confirm = h("div", { class: "confirm-lift stack", hidden: true },
      h("p", {}, fill(L.lift_confirm, { title: rule.title })),
      h("label", { for: noteId }, L.lift_note),
      h("input", { type: "text", id: noteId, name: "note", maxlength: "2000", autocomplete: "off" }),
      h("div", { class: "actions" },
        h("button", { type: "submit", class: "button button--primary", "data-confirm-lift": rule.key }, L.lift_yes),
        h("button", { type: "button", class: "button", onclick: () => { confirm.hidden = true; open.hidden = false; } }, L.lift_keep)));
    const open = h("button", {
      type: "button", class: "button", "data-lift": rule.key,
      onclick: () => { open.hidden = true; confirm.hidden = false; confirm.querySelector("input").focus(); },
    }, L.lift);
    const form = h("form", {
      class: "stack lift-form", novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        for (const b of form.querySelectorAll("button")) b.disabled = true;
        try {
          await api(`patients/${patientId}/rules/${rule.key}/lift/`, { method: "POST", body: { note: form.elements.note.value.trim() } });
          announce(fill(L.rule_lifted_note, { title: rule.title }));
          await redraw();
        } catch (e) {
          for (const b of form.querySelectorAll("button")) b.disabled = false;
          fail(e);
        }
      },
    },
    error, open, confirm);
    item.append(form);
  }
  return item;
}

function rulesPanel(box, rules, patientId, redraw) {
  box.replaceChildren(rules.length
    ? h("ul", { class: "plain-list rules-list" }, rules.map((r) => ruleRow(r, patientId, redraw)))
    : h("p", { class: "muted" }, L.rules_none));
}

// --- Check-ins ------------------------------------------------------------------------------------

const SERIES = [["back_pain", "trend-back"], ["leg_pain", "trend-leg"]];

function trendChart(trend) {
  const width = 320, height = 120, left = 24, bottom = 18, top = 6;
  const days = trend.map((t) => t.day);
  const first = Math.min(...days), last = Math.max(...days);
  const x = (day) => left + (last === first ? (width - left) / 2 : ((day - first) / (last - first)) * (width - left - 8));
  const y = (score) => top + (1 - score / 10) * (height - top - bottom);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "trend-chart", "aria-hidden": "true", focusable: "false" });
  for (const score of [0, 5, 10]) {
    chart.append(svg("line", { x1: left, x2: width, y1: y(score), y2: y(score), class: "trend-grid" }),
      svg("text", { x: 0, y: y(score) + 4, class: "trend-axis" }, String(score)));
  }
  for (const day of [first, last]) chart.append(svg("text", { x: x(day) - 8, y: height - 2, class: "trend-axis" }, fill(L.day_short, { day })));
  for (const [field, cls] of SERIES) {
    const points = trend.filter((t) => t[field] !== null && t[field] !== undefined);
    if (!points.length) continue;
    chart.append(svg("polyline", { points: points.map((t) => `${x(t.day)},${y(t[field])}`).join(" "), class: `trend-line ${cls}` }));
    for (const t of points) chart.append(svg("circle", { cx: x(t.day), cy: y(t[field]), r: 3, class: `trend-dot ${cls}` }));
  }
  return chart;
}

function trendTable(trend) {
  return h("table", { class: "visually-hidden", "data-pain-table": "" },
    h("caption", {}, L.pain_trend),
    h("thead", {}, h("tr", {}, [L.day, L.back_pain, L.leg_pain].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, trend.map((t) => h("tr", {},
      h("th", { scope: "row" }, String(t.day)), h("td", {}, t.back_pain ?? "—"), h("td", {}, t.leg_pain ?? "—")))));
}

function urgencyBadge(urgency) {
  if (urgency === "emergency") return h("span", { class: "badge badge--danger" }, L.urgency_emergency);
  if (urgency === "call_today") return h("span", { class: "badge badge--warning" }, L.urgency_call_today);
  return h("span", { class: "badge badge--muted" }, L.urgency_none);
}

function checkInsPanel(box, data) {
  const { check_ins: checkIns, pain_trend: trend, blood_thinner_restart: restart } = data;
  const parts = [];
  if (trend.length) {
    parts.push(h("figure", { class: "trend" },
      h("figcaption", {}, L.pain_trend, " ",
        h("span", { class: "legend-key trend-back" }, L.back_pain), " ",
        h("span", { class: "legend-key trend-leg" }, L.leg_pain)),
      trendChart(trend), trendTable(trend)));
  }
  parts.push(checkIns.length
    ? h("ul", { class: "plain-list check-ins" }, checkIns.map((c) => h("li", {
      class: `check-in-item${c.red_flags.length ? " is-red-flag" : ""}`, "data-check-in": c.id,
    },
    h("p", {}, h("strong", {}, fill(L.day_long, { day: c.day })), " ", urgencyBadge(c.urgency),
      h("span", { class: "meta" }, shortDateTime(c.answered_at))),
    c.red_flags_read.length ? h("p", { class: "red-flags" }, `${L.red_flags}: `, c.red_flags_read.join("; ")) : null,
    h("dl", { class: "answers" }, c.answers_read.map((a) => [h("dt", {}, a.question), h("dd", {}, a.answer)])))))
    : h("p", { class: "muted" }, L.check_ins_none));
  if (restart) {
    const status = restart.status === "done"
      ? fill(L.restart_done, { when: shortDateTime(restart.confirmed_at) })
      : fill(L.restart_open, { date: shortDate(restart.due_date) });
    parts.push(h("h3", {}, L.restart_title), h("p", { "data-restart": restart.status }, status));
  }
  box.replaceChildren(...parts);
}

export async function loadSafety() {
  const rulesBox = document.querySelector("[data-safety-rules]");
  const checkInsBox = document.querySelector("[data-check-ins]");
  if (!rulesBox || !checkInsBox) return;
  const patientId = rulesBox.dataset.patientId;
  let data;
  try {
    data = (await api(`patients/${patientId}/safety/`)).data;
  } catch {
    for (const box of [rulesBox, checkInsBox]) box.replaceChildren(h("p", { class: "form-error" }, L.safety_error));
    return;
  }
  for (const box of [rulesBox, checkInsBox]) box.removeAttribute("aria-busy");
  rulesPanel(rulesBox, data.rules, patientId, loadSafety);
  checkInsPanel(checkInsBox, data);
}
