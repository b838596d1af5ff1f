// Signing in: with the code of the care team's invitation, or with a link sent by email. The
// screen and what its forms and links do (app.js hands the routes /join/ and /signin/ to these).

import { api, ApiError, isOffline } from "../../shared/api.js";
import { h } from "../../shared/dom.js";
import { fmt } from "../i18n.js";
import { heading, screen } from "./frame.js";

/** Sign in with the invitation's code; on a refusal the screen again, saying why. */
export async function redeemCode(ctx, code) {
  try {
    const { data } = await api("auth/invitation/", { method: "POST", body: { code: code.trim() } });
    await ctx.enter(data.patient);
  } catch (error) {
    let text = gettext("This code is not valid. Please check it with your care team.");
    if (isOffline(error)) text = gettext("You need an internet connection to sign in.");
    else if (error instanceof ApiError && error.status === 429) text = gettext("Too many tries. Please wait a minute and try again.");
    signIn(ctx, { code, error: text });
    document.getElementById("code").focus();
  }
}

/** What the sign-in screen says to a link of an older email, its code in the path. */
export function oldLinkText() {
  return gettext("This link is from an older email. Please type the code from the email below.");
}

/** Open an emailed sign-in link: its token is exchanged for a session, once. */
export async function redeemLink(ctx, token) {
  try {
    const { data } = await api("auth/sign-in-link/redeem/", { method: "POST", body: { token } });
    // A caregiver's own account: the app reads who they follow from me/.
    if (data.kind === "caregiver") location.replace("/");
    else await ctx.enter(data.patient);
  } catch (error) {
    let text = gettext("This sign-in link has expired or has already been used. You can ask for a new one here.");
    if (isOffline(error)) text = gettext("You need an internet connection to sign in.");
    else if (error instanceof ApiError && error.status === 429) text = gettext("Too many tries. Please wait a minute and try again.");
    await ctx.signedOut({ linkError: text });
    document.getElementById("email").focus();
  }
}

/** Ask for a sign-in link by email: {sent, text}. The answer is the same for any address. */
async function requestLink(email) {
  try {
    const { data } = await api("auth/sign-in-link/", { method: "POST", body: { email } });
    const text = fmt(gettext("If %(email)s is the address your care team has, a sign-in link is on its way. Open it on this phone within %(minutes)s minutes."),
      { email: data.email, minutes: data.expires_in_minutes });
    return { sent: true, text };
  } catch (error) {
    let text = gettext("Something went wrong. Please try again.");
    if (isOffline(error)) text = gettext("You need an internet connection to sign in.");
    else if (error instanceof ApiError && error.status === 429) text = gettext("Too many requests. Please try again later.");
    else if (error instanceof ApiError && error.status === 400) text = gettext("Please enter a valid email address.");
    return { sent: false, text };
  }
}

export function signIn(ctx, { code = "", error = "", linkError = "" } = {}) {
  const errorBox = h("p", { id: "code-error", class: "field-error", role: "alert" }, error);
  const input = h("input", {
    id: "code", name: "code", value: code, autocomplete: "one-time-code", autocapitalize: "characters",
    spellcheck: "false", required: true, maxlength: "32", "aria-describedby": "code-help code-error",
  });
  const form = h(
    "form", { class: "stack", novalidate: true, onsubmit: (event) => { event.preventDefault(); redeemCode(ctx, input.value); } },
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
        const { sent, text } = await requestLink(input.value.trim());
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
