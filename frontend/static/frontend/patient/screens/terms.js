// Words the protocol explains (its glossary), linked where the patient reads them: a tap opens
// the meaning in plain words under the paragraph, a second tap closes it. The text is split
// into text nodes and buttons, never parsed as markup. The matching rule is the server's
// (checklists/protocol_files/about.py: whole words, any case, the longest first).

import { h } from "../../shared/dom.js";
import { link } from "./frame.js";

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** {pattern, byWord} for a glossary, or null when it has no entries. */
function matcher(glossary) {
  const byWord = new Map();
  for (const entry of glossary || []) for (const word of entry.matches) byWord.set(word.toLocaleLowerCase(), entry);
  if (!byWord.size) return null;
  const words = [...byWord.keys()].sort((a, b) => b.length - a.length);
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}_])(?:${words.map(escape).join("|")})(?![\\p{L}\\p{N}_])`, "giu");
  return { pattern, byWord };
}

function meaning(entry) {
  return h("div", { class: "term-meaning", role: "note", "data-meaning": entry.key },
    h("p", {}, h("strong", {}, entry.term), ": ", entry.text),
    h("p", { class: "term-more" }, link(`/about/words/#term-${entry.key}`, gettext("All the words explained"))));
}

function toggle(button, entry) {
  const block = button.closest("[data-terms]");
  const open = block.nextElementSibling;
  const wasOpen = open && open.dataset.meaning === entry.key;
  if (open && open.classList.contains("term-meaning")) open.remove();
  for (const other of block.querySelectorAll("button.term")) other.setAttribute("aria-expanded", "false");
  if (wasOpen) return;
  block.after(meaning(entry));
  button.setAttribute("aria-expanded", "true");
}

/**
 * A paragraph (or any block) whose glossary words are buttons. `seen` (a Set shared by one
 * screen) links each term once per screen, at its first appearance.
 */
export function withTerms(tag, attrs, text, glossary, seen = new Set()) {
  const found = matcher(glossary);
  const block = h(tag, { ...attrs, "data-terms": true });
  if (!found || !text) {
    block.append(text || "");
    return block;
  }
  let at = 0;
  for (const match of text.matchAll(found.pattern)) {
    const entry = found.byWord.get(match[0].toLocaleLowerCase());
    if (!entry || seen.has(entry.key)) continue;
    seen.add(entry.key);
    block.append(text.slice(at, match.index),
      h("button", { type: "button", class: "term", "aria-expanded": "false", "data-term": entry.key,
        onclick: (event) => toggle(event.currentTarget, entry) }, match[0]));
    at = match.index + match[0].length;
  }
  block.append(text.slice(at));
  return block;
}
