// The checklist as the screens read it, joined from its two parts: the patient's own state
// (me/checklist/state/, small, asked for again each time) and the protocol version's words,
// under an address that names them and never changes, so they are downloaded once and then
// read from the phone (the service worker keeps them). A caregiver reads the same two parts.

import { api } from "../shared/api.js";

// A step's state leaves out each field at its usual value (checklists.checklist_parts.STATE_DEFAULTS).
const DEFAULTS = {
  window_start: null, window_end: null, late: false, start_now: false, not_enough_time: false,
  completed_at: null, ticked_off_by: null, note: "", conditional: false, stop_today: false,
};

// The texts' address and their answer (a promise, so that a read started early is shared).
let kept = { url: "", texts: null };
// A read of the state started early (startEarly), taken by the first loadChecklistParts of its path.
let early = { path: "", answer: null };

/** The words under this address: from memory, else through the worker (which keeps them for good). */
function textsAt(url) {
  if (kept.url !== url) {
    kept = { url, texts: api(new URL(url, location.origin).href).then((answer) => answer.data) };
    kept.texts.catch(() => { if (kept.url === url) kept = { url: "", texts: null }; });
  }
  return kept.texts;
}

/** Start reading the state at `path` and the texts at `textsUrl` (the shell's hint) now, before they are asked for. */
export function startEarly(path, textsUrl) {
  early = { path, answer: api(path) };
  early.answer.catch(() => {});
  if (textsUrl) textsAt(textsUrl).catch(() => {});
}

function joinTask(item, words) {
  const answers = item.answers || {};
  const labels = words.target_labels || {};
  const { target_labels: _labels, sub_items: subItems, ...texts } = words;
  return {
    ...DEFAULTS, conditional_on: [], shown_answers: [], ...item, ...texts,
    sub_items: subItems.map((sub) => ({ ...sub, answer: answers[sub.key] || "" })),
    targets: (item.targets || []).map((t) => ({ ...t, label: labels[t.key] || t.key })),
  };
}

/** The combined checklist (as me/checklist/ answers it) from the state at `path`; throws ApiError. */
export async function loadChecklistParts(path) {
  const answer = early.path === path ? early.answer : api(path);
  early = { path: "", answer: null };
  const { data: state, cached } = await answer;
  const texts = await textsAt(state.texts_url);
  const groups = {};
  for (const [name, items] of Object.entries(state.groups)) groups[name] = items.map((item) => joinTask(item, texts.steps[item.key]));
  const { groups: _groups, protocol: _protocol, ...rest } = state;
  return { data: { ...rest, protocol: texts.protocol, groups }, cached };
}
