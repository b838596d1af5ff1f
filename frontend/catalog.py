"""The patient app's translations in parts: the strings of its first load, and each lazily loaded screen's own.

The whole Spanish catalogue is about three times what the first screen says. The shell's
catalogue holds the strings of the modules loaded with the app (the entry and its static
imports: the home screen); a module loaded with import() brings its strings with it, as a
small JSON object merged into the catalogue (i18n.js's `withStrings`). Which strings a module
uses is read from its gettext calls, as `makemessages` finds them, once per process.
"""

import json
import re
from functools import cache

from .modules import PATIENT_APP, PATIENT_ENTRY, STATIC_DIR, STATIC_IMPORT, first_load, static_files

# A JavaScript string literal in either quote, with its escapes.
_STRING = r""""(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'"""
# gettext("…"), ngettext("…", "…", n) and pgettext("context", "…"), over several lines too.
CALL = re.compile(rf"""\b(gettext|ngettext|pgettext)\(\s*({_STRING})(?:\s*,\s*({_STRING}))?""")
DYNAMIC_IMPORT = re.compile(r"""\bimport\(\s*["']([^"']+)["']\s*\)""")


def _literal(text: str) -> str:
    """The value of a JavaScript string literal (the escapes the app's strings use are JSON's)."""
    if text.startswith("'"):
        text = '"' + text[1:-1].replace('\\"', '"').replace("\\'", "'").replace('"', '\\"') + '"'
    return json.loads(text)


def msgids_of(name: str) -> set[str]:
    """The catalogue keys of the strings this module translates (a pgettext's is "context\\x04msgid")."""
    keys = set()
    for function, first, second in CALL.findall((STATIC_DIR / name).read_text(encoding="utf-8")):
        if function == "pgettext":
            if second:
                keys.add(_literal(first) + "\x04" + _literal(second))
        else:
            keys.add(_literal(first))
    return keys


def _closure_strings(entry: str) -> frozenset[str]:
    return frozenset().union(*(msgids_of(name) for name in first_load(entry)))


def part_name(module: str) -> str:
    """A lazily loaded module's part: its file's stem ("frontend/patient/screens/step.js" is "step")."""
    return module.rsplit("/", 1)[-1].removesuffix(".js")


@cache
def lazy_modules() -> dict[str, str]:
    """Every module of the app that some module loads with import(), by its part's name."""
    found = {}
    for name in static_files(PATIENT_APP, (".js",)):
        folder = name.rsplit("/", 1)[0]
        for target in DYNAMIC_IMPORT.findall((STATIC_DIR / name).read_text(encoding="utf-8")):
            module = "/".join(_join(folder, target))
            found[part_name(module)] = module
    return dict(sorted(found.items()))


def _join(folder: str, relative: str) -> list[str]:
    parts = folder.split("/")
    for piece in relative.split("/"):
        if piece == "..":
            parts.pop()
        elif piece != ".":
            parts.append(piece)
    return parts


@cache
def first_strings() -> frozenset[str]:
    """What the shell's catalogue holds: the strings of the app's first load."""
    return _closure_strings(PATIENT_ENTRY)


@cache
def part_strings(part: str) -> frozenset[str]:
    """A lazily loaded module's strings (with those of its static imports) that the first load lacks."""
    return _closure_strings(lazy_modules()[part]) - first_strings()


@cache
def parts() -> tuple[str, ...]:
    """The parts with strings of their own (push.js says nothing on screen, so it has none)."""
    return tuple(part for part in lazy_modules() if part_strings(part))


def only(catalog: dict, keys: frozenset[str]) -> dict:
    """The catalogue's entries for these keys (a key the language has no translation for is left out)."""
    return {key: value for key, value in catalog.items() if key in keys}
