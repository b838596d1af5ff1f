// Signing in: with the code of the care team's invitation, or with a link sent by email.

import { h } from "../../shared/dom.js";
import { heading, screen } from "./frame.js";

export function signIn(ctx, { code = "", error = "", linkError = "" } = {}) {
  const errorBox = h("p", { id: "code-error", class: "field-error", role: "alert" }, error);
  const input = h("input", {
    id: "code", name: "code", value: code, autocomplete: "one-time-code", autocapitalize: "characters",
    spellcheck: "false", required: true, maxlength: "32", "aria-describedby": "code-help code-error",
  });
  const form = h(
    "form", { class: "stack", novalidate: true, onsubmit: (event) => { event.preventDefault(); ctx.signIn(input.value); } },
    h("label", { for: "code" }, gettext("Your code")),
    h("p", { id: "code-help", class: "help" }, gettext("It has 8 letters and numbers, for example DEMO2345.")),
    input,
    errorBox,
    h("button", { class: "primary", type: "submit" }, gettext("Sign in")),
  );
  screen(
    gettext("Sign in"),
    heading(gettext("Welcome")),
    h("p", { class: "lead" }, gettext("Enter the code from your care team's invitation. You only need to do this once on this phone.")),
    form,
    linkSection(ctx, linkError),
  );
}

/** A new phone, or a code already used: a single-use sign-in link sent to the patient's email. */
function linkSection(ctx, error) {
  const errorBox = h("p", { id: "email-error", class: "field-error", role: "alert" }, error);
  const status = h("p", { class: "save-status", role: "status" });
  const input = h("input", {
    id: "email", name: "email", type: "email", autocomplete: "email", spellcheck: "false", required: true,
    maxlength: "254", "aria-describedby": "email-help email-error",
  });
  const button = h("button", { class: "secondary", type: "submit" }, gettext("Email me a sign-in link"));
  const form = h(
    "form", {
      class: "stack", novalidate: true, onsubmit: async (event) => {
        event.preventDefault();
        button.disabled = true;
        errorBox.textContent = status.textContent = "";
        const { sent, text } = await ctx.requestLink(input.value.trim());
        (sent ? status : errorBox).textContent = text;
        button.disabled = false;
        if (!sent) input.focus();
      },
    },
    h("label", { for: "email" }, gettext("Your email address")),
    h("p", { id: "email-help", class: "help" }, gettext("If your care team has your email address, we send you a link that signs you in on this phone.")),
    input,
    errorBox,
    button,
    status,
  );
  return h("section", { class: "card", "aria-labelledby": "h-link" },
    h("h2", { id: "h-link" }, gettext("No code, or a new phone?")),
    form);
}
