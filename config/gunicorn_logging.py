"""gunicorn's access log with the credentials some paths carry blanked out.

A calendar feed's address holds its secret in the path (a calendar app cannot send a header),
an old-style invitation link held its code there, and a message's read-receipt link its signed
token. The access log keeps the request line, the path and the referrer; those parts are
rewritten here before the line is written, so a log shared with a hosting provider holds no
working credential. Used with `--logger-class config.gunicorn_logging.RedactingLogger`.
"""

from __future__ import annotations

import re

from gunicorn.glogging import Logger

SECRET_IN_PATH = re.compile(
    r"(?P<keep>/api/v1/calendar/|/join/|/r/)(?P<secret>[^/?#\s\"]+)"
)
REDACTED = "[redacted]"
# The atoms of gunicorn's log format that hold the path, the query or the referrer.
PATH_ATOMS = ("r", "U", "q", "f", "{referer}i")


def redact(text: str) -> str:
    return SECRET_IN_PATH.sub(lambda m: m.group("keep") + REDACTED, text)


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in PATH_ATOMS:
            if isinstance(atoms.get(name), str):
                atoms[name] = redact(atoms[name])
        return atoms
