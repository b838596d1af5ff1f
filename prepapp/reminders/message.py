"""What a message is, whatever it says: its title, body, link and tag, and how dates are written in it.

compose.py words step reminders, digests and announcements; safety_words.py the safety net's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from django.utils import formats, translation
from django.utils.translation import pgettext

from prepapp.reminders import receipts

HOME_PATH = "/"


@dataclass
class DigestLine:
    """One step in a digest, as the patient reads it."""

    task_id: int
    kind: str
    title: str
    text: str  # "Due today: …", "Not done yet: …"
    url: str  # the step's screen in the app
    critical: bool = False
    alerted: bool = False
    when: str = ""  # "Was due Tuesday 1 December", "Due tomorrow": under the title where a heading names the group


@dataclass
class Message:
    title: str
    body: str
    url: str  # a path inside the patient app
    tag: str
    reminder: int | None = None
    receipt: str = ""  # the signed token that marks this message read when a link of it is opened
    # A digest's lines, grouped as the email shows them: {"overdue": [...], "due": [...], "starting": [...]}.
    digest: dict[str, list[DigestLine]] | None = None
    intro: str = ""  # a digest's opening sentence (the care team was told, …)
    more: str = ""  # "…and 3 more steps not done yet"
    lines: list[DigestLine] = field(default_factory=list)

    def link(self, task_id: int | None = None) -> str:
        """The path a link of this message opens: through the receipt when there is one."""
        if self.receipt:
            return receipts.link(self.receipt, task_id)
        return task_path(task_id) if task_id else self.url


def task_path(task_id: int) -> str:
    """The step's screen in the patient app (the app also still opens the older "/#/tasks/12" form)."""
    return f"/tasks/{task_id}/"


def day_text(value: date) -> str:
    """A date written out with the weekday ("Tuesday 1 December"), in the active language."""
    # Reads more easily than "Dec. 1, 2026". Formatting a date goes through the locale's
    # formats and catalogues each time (about 0.1 ms): a batch asks for the same few dates.
    return _day_text(value, translation.get_language())


@lru_cache(maxsize=4096)
def _day_text(value: date, language: str | None) -> str:
    return formats.date_format(value, pgettext("date in a reminder (PHP date format)", "l j F"))


def reminder_tag(reminder_id: int) -> str:
    """The stable identity of one reminder's notification (also its Web Push Topic)."""
    return f"reminder-{reminder_id}"
