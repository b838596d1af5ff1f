// Ticking a step off or on, and saving its answers: sent at once, or kept on this phone and sent
// when it is back online (a caregiver's ticks are not kept). Loaded with the step's screen.

import { api, ApiError, isOffline } from "../shared/api.js";
import { announce } from "../shared/dom.js";
import { fmt } from "./i18n.js";
import * as outbox from "./outbox.js";

/** Tick the step off (done) or on again; false when the session has ended (the sign-in screen is shown). */
export async function setDone(ctx, id, done) {
  const kind = done ? "complete" : "reopen";
  const title = ctx.task(id).title;
  try {
    if (!navigator.onLine) throw new ApiError(0);
    // Changes still waiting go first, so the server ends with the patient's last word.
    if (outbox.pending().length) await ctx.sync();
    const { data } = await api(ctx.source(`tasks/${id}/${kind}/`), { method: "POST" });
    ctx.replaceTask(data);
    announce(fmt(done ? gettext("Marked as done: %(title)s") : gettext("Marked as not done: %(title)s"), { title }));
  } catch (error) {
    // A caregiver's ticks are not kept to send later: the patient's phone may tick the same step meanwhile.
    if (isOffline(error) && ctx.state.following) {
      // Said on the screen, not only to screen readers: nothing of this tick is kept.
      const text = gettext("You are offline. Your tick was not saved and will not be sent later: please tick it again when you are back online.");
      announce(text);
      ctx.showProblem(text);
    } else if (isOffline(error)) {
      outbox.enqueue({ task: Number(id), kind });
      announce(fmt(done
        ? gettext("Marked as done: %(title)s. This change will be sent when you are back online.")
        : gettext("Marked as not done: %(title)s. This change will be sent when you are back online."), { title }));
    } else if (error instanceof ApiError && error.signedOut) {
      await ctx.signedOut();
      return false;
    } else {
      announce(gettext("Something went wrong. Please try again."));
      ctx.showProblem(gettext("Something went wrong. Please try again."));
    }
  }
  return true;
}

/** "saved", "queued" or "" (failed). */
export async function saveAnswers(ctx, id, answers) {
  try {
    if (!navigator.onLine) throw new ApiError(0);
    if (outbox.pending().length) await ctx.sync();
    const { data } = await api(`me/tasks/${id}/`, { method: "PATCH", body: { answers } });
    ctx.replaceTask(data);
    return "saved";
  } catch (error) {
    if (isOffline(error)) {
      outbox.enqueue({ task: Number(id), kind: "answers", body: { answers } });
      return "queued";
    }
    return "";
  }
}
