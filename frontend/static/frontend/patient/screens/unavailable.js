// The screens shown instead of the app when it cannot be drawn: offline with nothing saved
// on the phone, or signed in as a member of the care team.

import { h } from "../../shared/dom.js";
import { heading, screen } from "./frame.js";

export function notSaved() {
  screen(
    gettext("You are offline"),
    heading(gettext("You are offline")),
    h("p", {}, gettext("Your checklist has not been saved on this phone yet. Please connect to the internet and open the app again.")),
  );
}

export function staffOnly() {
  screen(
    gettext("Getting ready for surgery"),
    heading(gettext("This app is for patients")),
    h("p", {}, gettext("You are signed in as a member of the care team.")),
    h("p", {}, h("a", { href: "/coordinator/", class: "button primary" }, gettext("Go to the care team pages"))),
  );
}
