// Changes made while offline: kept on the phone (localStorage) in order, shown to the
// patient as "waiting to be sent", and sent when the connection is back.

import { api, ApiError, isOffline } from "../shared/api.js";

const KEY = "prep.outbox.v1";
export const events = new EventTarget();

export function pending() {
  try {
    return JSON.parse(localStorage.getItem(KEY)) || [];
  } catch {
    return [];
  }
}

function save(ops) {
  localStorage.setItem(KEY, JSON.stringify(ops));
  events.dispatchEvent(new CustomEvent("change", { detail: ops.length }));
}

export function clear() {
  save([]);
}

/**
 * Queue one change. Ticking off and undoing the same task cancel out; newer answers
 * for a task are merged into the waiting ones.
 */
export function enqueue(op) {
  let ops = pending();
  if (op.kind === "complete" || op.kind === "reopen") {
    const opposite = op.kind === "complete" ? "reopen" : "complete";
    const earlier = ops.findIndex((o) => o.task === op.task && o.kind === opposite);
    if (earlier >= 0) {
      ops.splice(earlier, 1);
      return save(ops);
    }
    ops = ops.filter((o) => !(o.task === op.task && o.kind === op.kind));
  } else if (op.kind === "answers") {
    const earlier = ops.find((o) => o.task === op.task && o.kind === "answers");
    if (earlier) {
      earlier.body = { ...earlier.body, ...op.body, answers: { ...earlier.body.answers, ...op.body.answers } };
      return save(ops);
    }
  }
  ops.push({ ...op, at: new Date().toISOString() });
  save(ops);
}

/** A task as the patient last left it: the server's copy with the waiting changes on top. */
export function overlay(task) {
  let result = task;
  for (const op of pending()) {
    if (op.task !== task.id) continue;
    if (op.kind === "complete") result = { ...result, status: "done", completed_at: op.at, waiting: true };
    else if (op.kind === "reopen") result = { ...result, status: "open", completed_at: null, waiting: true };
    else if (op.kind === "answers") {
      const answers = op.body.answers || {};
      result = {
        ...result,
        waiting: true,
        note: op.body.note ?? result.note,
        sub_items: result.sub_items.map((s) => (s.key in answers ? { ...s, answer: answers[s.key] } : s)),
      };
    }
  }
  return result;
}

function request(op) {
  if (op.kind === "answers") return api(`me/tasks/${op.task}/`, { method: "PATCH", body: op.body });
  return api(`me/tasks/${op.task}/${op.kind}/`, { method: "POST" });
}

let flushing = null;

/**
 * Send the waiting changes in order. Stops at the first network failure (to try again
 * later); a change the server refuses (the task is gone, the surgery was cancelled) is
 * dropped and reported, since sending it again would never succeed.
 */
export function flush() {
  flushing ||= (async () => {
    const refused = [];
    let sent = 0;
    try {
      for (;;) {
        const [op] = pending();
        if (!op) break;
        try {
          await request(op);
          sent += 1;
        } catch (error) {
          if (isOffline(error)) break;
          if (error instanceof ApiError && error.status >= 400 && error.status < 500 && !error.signedOut) {
            refused.push(op);
          } else break;
        }
        save(pending().filter((o) => o.at !== op.at || o.task !== op.task || o.kind !== op.kind));
      }
    } finally {
      flushing = null;
    }
    if (sent || refused.length) events.dispatchEvent(new CustomEvent("flushed", { detail: { sent, refused } }));
    return { sent, refused };
  })();
  return flushing;
}
