"""Each worker process's note of what it handed to email or push, kept until the database has it.

Sending and recording cannot be one transaction: the message leaves over SMTP or HTTP, then
the outcome is written to the database. When the database is unreachable at that moment
(a restart, a failover) or the worker dies in between, the rows stay "sending" and their
lease would bring them back to be sent again. So every message the channel accepted is
first written here, one line per reminder, right after the channel said yes:

- one append-only file per worker process under REMINDER_JOURNAL_DIR, which the process
  holds an exclusive `flock` on for as long as it lives (the kernel drops the lock when the
  process dies, however it dies);
- a line is one `write()` (it survives the process being killed: the kernel has it) and the
  file is fsync'ed before the record step (it survives the host losing power from then on);
- after the batch is recorded, the process empties its file.

Replaying a file records its lines as sent in the database, each a compare-and-set on the
claim token it was sent under (or on a row that a reclaim already put back to pending: it
went out, so it must not go out again). A line whose row is already recorded changes
nothing, so replaying twice, or two processes replaying the same file, is harmless. Files
are replayed when a worker starts, when a delivery task starts, and before the sweeper
reclaims any lease: the files of dead processes are then emptied and removed; those of live
ones are only read, and only for the rows a reclaim is about to take away (a live process
records its own batches).

The journal is local to a host: a worker that dies after sending and is not started again
on the same host (or with the same directory) before its lease runs out loses what its
file held, and those rows can be sent a second time (marked "possibly sent twice").
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from prepapp.reminders.models import DeliveryAttempt, Reminder

log = logging.getLogger(__name__)

SUFFIX = ".journal"
EXTERNAL_CHANNELS = frozenset({Reminder.Channel.EMAIL, Reminder.Channel.PUSH})
REPLAYED_NOTE = "sent; recorded from the worker's journal (the database had not recorded it when it went out)"
DUPLICATE_NOTE = "an earlier attempt may also have been delivered (worker lost)"


def worker_id() -> str:
    """This process as the rows it holds name it: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


@dataclass(frozen=True)
class Entry:
    """One line: this reminder went out on its channel under this claim token, at this time."""

    reminder_id: int
    token: datetime
    channel: str
    at: datetime
    detail: str = ""

    def line(self) -> bytes:
        data = {"id": self.reminder_id, "token": self.token.isoformat(), "channel": self.channel,
                "at": self.at.isoformat(), "detail": self.detail[:500]}
        return (json.dumps(data, separators=(",", ":")) + "\n").encode()

    @classmethod
    def parse(cls, line: bytes) -> "Entry | None":
        try:
            data = json.loads(line)
            return cls(int(data["id"]), datetime.fromisoformat(data["token"]), str(data["channel"]),
                       datetime.fromisoformat(data["at"]), str(data.get("detail", "")))
        except (ValueError, KeyError, TypeError):
            return None  # a torn last line (power lost mid-write) or a line being written right now


class Journal:
    """This process's own file: opened on first use, locked for the life of the process."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.pid = os.getpid()
        self.path: Path | None = None
        self.fd: int | None = None
        self.lines = 0  # written since the file was last emptied

    def open(self) -> None:
        if self.fd is not None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{socket.gethostname()}-{self.pid}-{uuid.uuid4().hex[:8]}"
        path, draft = self.directory / f"{name}{SUFFIX}", self.directory / f"{name}.new"
        fd = os.open(draft, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file: nobody else holds it
        # Locked before it gets its real name: no replayer ever sees it unlocked and
        # takes its owner for dead.
        os.rename(draft, path)
        self.path, self.fd, self.lines = path, fd, 0

    def write(self, entry: Entry) -> None:
        """Append one line. One write() call: once it returns, a kill -9 cannot lose it."""
        self.open()
        os.write(self.fd, entry.line())
        self.lines += 1

    def sync(self) -> None:
        if self.fd is not None and self.lines:
            os.fsync(self.fd)

    def clear(self) -> None:
        """Empty the file: everything in it is in the database now."""
        if self.fd is not None and self.lines:
            os.ftruncate(self.fd, 0)
            self.lines = 0

    def read(self) -> list[Entry]:
        if self.path is None or not self.lines:
            return []
        return _entries(self.path.read_bytes())

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


_journal: Journal | None = None


def current() -> Journal:
    """This process's journal (a forked child gets its own file, never its parent's)."""
    global _journal
    directory = Path(settings.REMINDER_JOURNAL_DIR)
    if _journal is None or _journal.pid != os.getpid() or _journal.directory != directory:
        if _journal is not None and _journal.pid == os.getpid():
            _journal.close()
        _journal = Journal(directory)
    return _journal


def _entries(data: bytes) -> list[Entry]:
    entries = []
    for line in data.splitlines():
        entry = Entry.parse(line) if line.strip() else None
        if entry is not None:
            entries.append(entry)
    return entries


# --- Recording what a journal holds ----------------------------------------------------------


def record(entries: list[Entry]) -> int:
    """Record journaled sends in the database (one transaction); return how many rows changed.

    A row still claimed under the entry's token, or put back to pending by a reclaim, becomes
    sent; any other row (already recorded, or claimed again meanwhile) is left alone.
    """
    if not entries:
        return 0
    latest: dict[int, Entry] = {}
    for entry in entries:
        latest[entry.reminder_id] = entry
    now = timezone.now()
    changed = 0
    with transaction.atomic():
        for entry in sorted(latest.values(), key=lambda e: e.reminder_id):
            row = (
                Reminder.objects.select_for_update()
                .filter(id=entry.reminder_id)
                .filter(Q(status=Reminder.Status.SENDING, claimed_at=entry.token) | Q(status=Reminder.Status.PENDING))
                .only("id", "patient_id", "channel", "lost_claims")
                .first()
            )
            if row is None:
                continue
            possible_duplicate = bool(row.lost_claims) and row.channel in EXTERNAL_CHANNELS
            detail = REPLAYED_NOTE + (f"; {DUPLICATE_NOTE}" if possible_duplicate else "")
            if entry.detail:
                detail = f"{detail}; {entry.detail}"
            Reminder.objects.filter(id=row.id).update(
                status=Reminder.Status.SENT, sent_at=entry.at, last_error=detail if possible_duplicate else "",
                lease_until=None, waiting_for_channel=False, updated_at=now,
            )
            DeliveryAttempt.objects.create(
                reminder_id=row.id, patient_id=row.patient_id, channel=row.channel,
                outcome=DeliveryAttempt.Outcome.SENT, detail=detail[:2000], at=entry.at,
                possible_duplicate=possible_duplicate,
            )
            changed += 1
    if changed:
        log.warning("recorded %s sent reminders from the journal", changed)
    return changed


def _replay_file(path: Path, live_ids: set[int] | None) -> int:
    """Record one file of another process: all of it, emptied and removed, when its owner is dead;
    only the lines about `live_ids` while it lives (it records its own batches itself)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return 0  # another process replayed and removed it just now
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            owner_alive = False
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            owner_alive = True
        if owner_alive and not live_ids:
            return 0
        data = b""
        while chunk := os.read(fd, 1 << 20):
            data += chunk
        entries = _entries(data)
        if owner_alive:
            entries = [e for e in entries if e.reminder_id in live_ids]
        changed = record(entries)
        if not owner_alive:
            # Everything it held is in the database now: the file has no further use.
            os.ftruncate(fd, 0)
            path.unlink(missing_ok=True)
        return changed
    finally:
        os.close(fd)


def replay(*, live_ids: set[int] | None = None) -> int:
    """Record what this process's journal and those of dead processes on this host hold, and
    remove the dead ones' files; from the files of live processes, only the lines about
    `live_ids` (the rows a reclaim is about to take from their holders).

    Raises the database's error when it cannot be reached: nothing is emptied then.
    """
    directory = Path(settings.REMINDER_JOURNAL_DIR)
    if not directory.is_dir():
        return 0
    own = current()
    changed = 0
    if own.lines:
        changed += record(own.read())
        own.clear()
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        if path == own.path:
            continue
        try:
            if path.stat().st_size == 0:
                if _owner_dead(path):
                    path.unlink(missing_ok=True)
                continue
        except FileNotFoundError:
            continue
        changed += _replay_file(path, live_ids)
    return changed


def _owner_dead(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def pending_lines() -> int:
    """Lines on this host not yet known to be recorded (for checks and the fault tests)."""
    directory = Path(settings.REMINDER_JOURNAL_DIR)
    if not directory.is_dir():
        return 0
    return sum(len(_entries(p.read_bytes())) for p in directory.glob(f"*{SUFFIX}") if p.exists())

