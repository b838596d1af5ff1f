"""The email channel: one SMTP session per batch, HTML and plain text in the patient's language."""

from __future__ import annotations

import functools
import re
import smtplib
from email.generator import BytesGenerator
from email.policy import compat32
from email.utils import formatdate
from typing import Iterator

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.mail.message import RFC5322_EMAIL_LINE_LENGTH_LIMIT, forbid_multi_line_headers, sanitize_address
from django.template.defaultfilters import linebreaksbr
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.html import conditional_escape
from django.utils.translation import gettext as _

from prepapp.reminders.channels.base import Outcome, Outgoing, Result, Transport
from prepapp.reminders.compose import day_text
from prepapp.reminders.family import address_of, settings_of
from prepapp.reminders.models import Reminder


def digest_context(patient, message) -> dict:
    """What the digest templates show: the message's lines, grouped, each with its link through the receipt."""
    sections = []
    headings = {
        "overdue": _("Not done yet"),
        "due": _("Due soon"),
        "starting": _("You can start now"),
    }
    for kind in ("overdue", "due", "starting"):
        lines = message.digest.get(kind) or []
        if lines:
            sections.append({
                "kind": kind, "heading": headings[kind],
                "lines": [{"line": line, "link": settings.SITE_URL + message.link(line.task_id)} for line in lines],
            })
    return {
        "patient": patient, "message": message, "sections": sections, "language": patient.language,
        "link": settings.SITE_URL + message.link(), "settings_link": settings.SITE_URL + "/settings/",
    }


def reminder_headers(reminder_id: int) -> dict[str, str]:
    """The headers of a reminder's email besides the addresses, subject and date."""
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "localhost"
    return {
        # The same id on every attempt: a mail client shows a resent reminder once.
        "Message-ID": f"<reminder-{reminder_id}@{domain}>",
        "X-Reminder-Id": str(reminder_id),
        "Auto-Submitted": "auto-generated",
    }


# --- The message on the wire, without building Python's email objects ------------------------
#
# Django builds a tree of MIME objects, then Python's generator folds every header through
# `email.header.Header` and copies each part into buffers: most of a message's CPU. `wire_bytes`
# writes the same bytes directly for what reminders are (two UTF-8 text parts, short lines),
# folding only the headers that need it with the very policy Django's `as_bytes` uses, and
# choosing the boundary with the generator's own method. Anything else (a line too long for
# 8bit, no text part, another charset) returns None and goes through Django. The tests compare both outputs.

_CRLF = compat32.clone(linesep="\r\n")  # what `as_bytes(linesep="\r\n")` folds headers with
_UNFOLDED = re.compile(r"[!-~]+(?: [!-~]+)*")  # printable ASCII words, single spaces: nothing to fold
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # the generator's NLCRE: each becomes CRLF


def _header(name: str, value: str) -> bytes:
    """One header line as compat32 folds it at 78 characters; short plain ones without its work."""
    if len(name) + len(value) <= 74 and "=?" not in value and _UNFOLDED.fullmatch(value):
        return f"{name}: {value}\r\n".encode("ascii")
    return _CRLF.fold_binary(name, value)


@functools.lru_cache(maxsize=2048)
def _subject_header(subject: str) -> bytes:
    """The Subject line: encoded-words for non-ASCII, then folded; the same few titles recur all day."""
    return _header(*forbid_multi_line_headers("Subject", subject, "utf-8"))


def _boundary(text: bytes) -> str:
    """The generator's boundary (a random token); its check of the text by regex only when the token is in it."""
    boundary = BytesGenerator._make_boundary()
    if f"--{boundary}".encode("ascii") in text:
        boundary = BytesGenerator._make_boundary(text)
    return boundary


def _text_part(subtype: str, body: str) -> bytes | None:
    """A text part as Django's SafeMIMEText writes it in UTF-8, or None when it would need quoted-printable."""
    data = _LINE_BREAK.sub("\r\n", body).encode("utf-8")
    if len(data) > RFC5322_EMAIL_LINE_LENGTH_LIMIT and any(
        len(line) > RFC5322_EMAIL_LINE_LENGTH_LIMIT for line in data.splitlines()
    ):
        return None
    encoding = "7bit" if data.isascii() else "8bit"
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\nMIME-Version: 1.0\r\n'
            f"Content-Transfer-Encoding: {encoding}\r\n\r\n").encode("ascii") + data


def wire_bytes(subject: str, to: str, headers: dict[str, str], text: str, html: str) -> bytes | None:
    """What EmailMultiAlternatives(subject, text, to=[to], headers) with `html` gives as bytes, or None."""
    if not text or settings.DEFAULT_CHARSET.lower() != "utf-8":
        return None  # Django leaves an empty text part out; another charset: Django's rules
    parts = [_text_part("plain", text), _text_part("html", html)]
    if None in parts:
        return None
    boundary = _boundary(b"\r\n".join(parts))
    fields = [
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
        ("MIME-Version", "1.0"),
        forbid_multi_line_headers("From", settings.DEFAULT_FROM_EMAIL, "utf-8"),
        forbid_multi_line_headers("To", to, "utf-8"),
        ("Date", formatdate(localtime=settings.EMAIL_USE_LOCALTIME)),
        *(forbid_multi_line_headers(name, value, "utf-8") for name, value in headers.items()),
    ]
    delimiter = f"\r\n--{boundary}\r\n".encode("ascii")
    head = [_header(name, value) for name, value in fields]
    head.insert(2, _subject_header(subject))
    return b"".join([
        *head,
        f"\r\n--{boundary}\r\n".encode("ascii"), parts[0], delimiter, parts[1],
        f"\r\n--{boundary}--\r\n".encode("ascii"),
    ])


def _reference_bytes(email: EmailMultiAlternatives) -> bytes:
    return email.message().as_bytes(linesep="\r\n")


# --- A reminder's words around its values, rendered once per language ------------------------
#
# Everything in reminder.txt and reminder.html but seven values is the same for every reminder
# in a language (the greeting, the button, the footer, their translations): about half of an
# email's CPU when rendered anew for each. `_frame` renders a template once per language (and
# per which optional paragraphs show) with stand-ins for the values; `_fill` puts each
# reminder's values in, escaped as the template escapes them. The tests compare the result with
# a full render for every reminder they make, in both languages.

_STAND_IN_MARK = "\x00"
_STAND_INS = ("name", "title", "body", "instructions", "why", "link", "settings_link")
_STAND_IN = re.compile("\x00([0-9])\x00")


@functools.lru_cache(maxsize=64)
def _frame(template: str, language: str, has_instructions: bool, has_why: bool) -> str:
    """The template rendered in `language` with a stand-in ("\\x00<n>\\x00") where each value goes."""
    mark = {name: f"\x00{n}\x00" for n, name in enumerate(_STAND_INS)}
    context = {
        "patient": {"full_name": mark["name"]}, "message": {"title": mark["title"], "body": mark["body"]},
        "instructions": mark["instructions"] if has_instructions else "", "why": mark["why"] if has_why else "",
        "link": mark["link"], "settings_link": mark["settings_link"], "language": language,
    }
    with translation.override(language):
        return str(render_to_string(template, context))


def _fill(frame: str, values) -> str:
    return _STAND_IN.sub(lambda found: values[int(found.group(1))], frame)


# --- One message over an open SMTP session ------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _quoted(address: str) -> str:
    return smtplib.quoteaddr(address)


@functools.lru_cache(maxsize=4096)
def envelope_address(address: str, charset: str) -> str:
    """Django's sanitize_address (the email package's address parser: a tenth of a message's CPU), kept per address."""
    return sanitize_address(address, charset)


def send_one(smtp: smtplib.SMTP, sender: str, recipient: str, data: bytes) -> None:
    """smtplib's sendmail for one recipient; MAIL, RCPT and DATA in one write when the server allows.

    With PIPELINING (RFC 2920, which relays such as Postfix advertise) a message takes two
    round trips instead of four: the three commands and their replies, then the content and
    its reply. The replies are read in order and raise what smtplib's sendmail would.
    """
    smtp.ehlo_or_helo_if_needed()
    if not (smtp.does_esmtp and smtp.has_extn("pipelining")):
        smtp.sendmail(sender, [recipient], data)
        return
    if any(c in address for address in (sender, recipient) for c in "\r\n"):
        raise ValueError("an address with a line break")  # smtplib's putcmd refuses them too
    size = f" size={len(data)}" if smtp.has_extn("size") else ""
    smtp.send(f"mail FROM:{_quoted(sender)}{size}\r\nrcpt TO:{_quoted(recipient)}\r\ndata\r\n")
    mail = smtp.getreply()
    if mail[0] == 421:  # the server is closing: nothing more will come
        smtp.close()
        raise smtplib.SMTPSenderRefused(*mail, sender)
    rcpt = smtp.getreply()
    if rcpt[0] == 421:
        smtp.close()
        raise smtplib.SMTPRecipientsRefused({recipient: rcpt})
    start = smtp.getreply()
    if start[0] == 354 and (mail[0] != 250 or rcpt[0] not in (250, 251)):
        smtp.send(b".\r\n")  # a server that took DATA without a recipient: end the empty message
        smtp.getreply()
    if mail[0] != 250:
        smtp._rset()
        raise smtplib.SMTPSenderRefused(*mail, sender)
    if rcpt[0] not in (250, 251):
        smtp._rset()
        raise smtplib.SMTPRecipientsRefused({recipient: rcpt})
    if start[0] != 354:
        smtp._rset()
        raise smtplib.SMTPDataError(*start)
    content = smtplib._quote_periods(data)
    smtp.send(content + (b"" if content.endswith(b"\r\n") else b"\r\n") + b".\r\n")
    code, reply = smtp.getreply()
    if code != 250:
        if code == 421:
            smtp.close()
        else:
            smtp._rset()
        raise smtplib.SMTPDataError(code, reply)


class EmailTransport(Transport):
    """Email through Django's backend (EMAIL_URL): HTML and plain text, in the patient's language."""

    channel = Reminder.Channel.EMAIL

    def render(self, item: Outgoing) -> tuple[str, str]:
        """The plain text and the HTML of one reminder or digest, in the patient's language."""
        reminder, message = item.reminder, item.message
        if message.digest is not None or reminder.for_family:
            return self.render_templates(item)
        texts = self.texts(item)
        values = (reminder.patient.full_name, message.title, message.body, texts["instructions"], texts["why"],
                  settings.SITE_URL + message.link(reminder.task_id), settings.SITE_URL + "/settings/")
        if not all(isinstance(v, str) and _STAND_IN_MARK not in v for v in values):
            return self.render_templates(item)
        language, flags = reminder.patient.language, (bool(texts["instructions"]), bool(texts["why"]))
        text = _fill(_frame("reminders/email/reminder.txt", language, *flags), values)
        html = _fill(_frame("reminders/email/reminder.html", language, *flags), [
            # What the template does to each value, in the same order as _STAND_INS.
            conditional_escape(values[0]), conditional_escape(values[1]), linebreaksbr(values[2], autoescape=True),
            linebreaksbr(values[3], autoescape=True), conditional_escape(values[4]), conditional_escape(values[5]),
            conditional_escape(values[6]),
        ])
        return text, html

    @staticmethod
    def texts(item: Outgoing) -> dict:
        """The step's title, instructions and why in the patient's language (an announcement has only its title)."""
        if item.reminder.task_id is None:  # an announcement: its message says it all
            return {"title": item.message.title, "instructions": "", "why": ""}
        return item.reminder.task.definition.localized(item.reminder.patient.language)

    def render_templates(self, item: Outgoing) -> tuple[str, str]:
        """The plain text and the HTML rendered from the templates with the whole context, every time."""
        reminder, message = item.reminder, item.message
        if reminder.for_family:
            return self.render_family(item)
        patient = reminder.patient
        with translation.override(patient.language):
            if message.digest is not None:
                context = digest_context(patient, message)
                return (render_to_string("reminders/email/digest.txt", context),
                        render_to_string("reminders/email/digest.html", context))
            texts = self.texts(item)
            context = {
                "patient": patient, "message": message, "task_title": texts["title"],
                "instructions": texts["instructions"], "why": texts["why"],
                "due_date": day_text(reminder.task.due_date) if reminder.task_id else "",
                # Through the receipt: opening the link marks the reminder read.
                "link": settings.SITE_URL + message.link(reminder.task_id),
                "settings_link": settings.SITE_URL + "/settings/",
                "language": patient.language,
            }
            return (render_to_string("reminders/email/reminder.txt", context),
                    render_to_string("reminders/email/reminder.html", context))

    @staticmethod
    def render_family(item: Outgoing) -> tuple[str, str]:
        """A caregiver's email about the patient, in the caregiver's language, greeting the caregiver."""
        reminder, message = item.reminder, item.message
        language = settings_of(reminder.caregiver).language
        with translation.override(language):
            context = {
                "patient": {"full_name": reminder.caregiver.name}, "message": message, "language": language,
                "link": settings.SITE_URL + message.url, "settings_link": settings.SITE_URL + "/settings/",
            }
            return (render_to_string("reminders/email/family.txt", context),
                    render_to_string("reminders/email/family.html", context))

    def build(self, item: Outgoing, rendered: tuple[str, str] | None = None) -> EmailMultiAlternatives:
        """The message as Django's mail API builds it: what non-SMTP backends get, and the reference."""
        text, html = rendered or self.render(item)
        email = EmailMultiAlternatives(
            subject=item.message.title, body=text, to=[address_of(item.reminder)],
            headers=reminder_headers(item.reminder.id),
        )
        email.attach_alternative(html, "text/html")
        return email

    def wire(self, item: Outgoing) -> bytes:
        """The message as the bytes `build(item).message().as_bytes()` gives, at a fraction of the work."""
        rendered = self.render(item)
        return wire_bytes(item.message.title, address_of(item.reminder), reminder_headers(item.reminder.id),
                          *rendered) or _reference_bytes(self.build(item, rendered))

    def send(self, items: list[Outgoing]) -> Iterator[Result]:
        # One SMTP session for the whole batch (Django's backend would open one per call otherwise).
        connection = get_connection()
        # Over SMTP the bytes go straight to the backend's session (as its send_messages would
        # send them); any other backend (console, file, memory) gets Django's message object.
        smtp = isinstance(connection, SmtpBackend)
        sender = envelope_address(settings.DEFAULT_FROM_EMAIL, settings.DEFAULT_CHARSET) if smtp else None
        try:
            for index, item in enumerate(items):
                if not address_of(item.reminder):
                    yield Result(item.reminder.id, Outcome.UNAVAILABLE, "no email address")
                    continue
                try:
                    connection.open()  # no-op while the session is up; reconnects after an error
                    if sender is None:
                        connection.send_messages([self.build(item)])
                    else:
                        recipient = envelope_address(address_of(item.reminder), settings.DEFAULT_CHARSET)
                        send_one(connection.connection, sender, recipient, self.wire(item))
                except smtplib.SMTPRecipientsRefused as exc:
                    codes = [code for code, _msg in exc.recipients.values()]
                    outcome = Outcome.FAILED if all(code >= 500 for code in codes) else Outcome.RETRY
                    yield Result(item.reminder.id, outcome, f"recipient refused: {exc.recipients}")
                except smtplib.SMTPResponseException as exc:
                    connection.close()
                    outcome = Outcome.FAILED if exc.smtp_code >= 500 else Outcome.RETRY
                    yield Result(item.reminder.id, outcome, f"SMTP {exc.smtp_code}: {exc.smtp_error!r}")
                except (smtplib.SMTPException, OSError) as exc:
                    detail = f"SMTP unavailable: {exc.__class__.__name__}: {exc}"
                    connection.close()
                    try:
                        connection.open()  # a dropped session: carry on with a new one
                    except (smtplib.SMTPException, OSError):
                        # The server is unreachable: this and the rest of the batch wait for a
                        # retry, rather than each waiting for its own connection timeout.
                        for rest in items[index:]:
                            yield Result(rest.reminder.id, Outcome.RETRY, detail)
                        return
                    yield Result(item.reminder.id, Outcome.RETRY, detail)
                else:
                    yield Result(item.reminder.id, Outcome.SENT)
        finally:
            connection.close()
