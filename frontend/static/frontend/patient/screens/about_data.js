// The about answer (me/about/) and the operation's name from it: what the home screen needs of
// About your surgery, apart from its pages (about.js), which load when they are opened.

import { api } from "../../shared/api.js";
import { fmt } from "../i18n.js";

/** The about answer (me/about/): fetched afresh, the saved copy kept when it cannot be had. */
export async function loadAbout(ctx) {
  try {
    const followed = ctx.state.following;
    const { data, cached } = await api(followed ? `following/${followed.id}/about/` : "me/about/");
    ctx.state.about = data;
    ctx.state.aboutSaved = cached;
  } catch {
    // Nothing new: what was had stays (null when nothing ever was).
  }
  return ctx.state.about;
}

/** "MIS-TLIF at L4–L5", "MIS-TLIF", "L4–L5" or null: the operation as the care team noted it. */
export function yourOperation(about) {
  if (!about || (!about.approach_label && !about.level)) return null;
  if (about.approach_label && about.level) return fmt(gettext("%(approach)s at %(level)s"), { approach: about.approach_label, level: about.level });
  return about.approach_label || fmt(gettext("Level %(level)s"), { level: about.level });
}
