"""The two apps' ES modules as the browser gets them: which files make up an app, the
import map that sends each module's plain URL to its hashed one, and the modules to preload.

The modules load each other by relative URL ("../shared/api.js"); with hashed static names
the browser is told by the import map which file each of those really is, so every module
is served with long caching and one release never mixes with another's modules.
"""

import json
import posixpath
import re
from functools import cache
from pathlib import Path

from django.conf import settings
from django.templatetags.static import static

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Each app's folders of static files; the shared folder holds what both import.
PATIENT_APP = ("frontend/patient", "frontend/shared")
PATIENT_ENTRY = "frontend/patient/app.js"
COORDINATOR_PAGES = ("frontend/coordinator", "frontend/shared")


def static_files(folders: tuple[str, ...], suffixes: tuple[str, ...] = (".js", ".css")) -> list[str]:
    """The static names ("frontend/shared/api.js") of the files with these suffixes in the folders, at any depth."""
    names = []
    for folder in folders:
        paths = (path for path in (STATIC_DIR / folder).rglob("*") if path.suffix in suffixes)
        names += sorted(path.relative_to(STATIC_DIR).as_posix() for path in paths)
    return names


def module_urls(folders: tuple[str, ...]) -> list[str]:
    """The URLs of the modules in the folders, for <link rel="modulepreload">.

    Without them the browser finds the modules one level of imports at a time; with them it
    fetches all at once, and a page's forms are ready about as soon as the page is drawn.
    """
    return [static(name) for name in static_files(folders, (".js",))]


# `import … from "./x.js"` and `import "./x.js"` (over several lines too); not `import("./x.js")`,
# which loads a module only when the code asks for it.
STATIC_IMPORT = re.compile(r"""^\s*import\s+(?:[\w*{}\s,]+?\s+from\s+)?["']([^"']+)["']""", re.M)


@cache
def first_load(entry: str) -> tuple[str, ...]:
    """The static names of the entry module and of every module it imports statically, at any depth.

    These are what the browser must fetch before the entry runs: the ones to preload. A module
    imported with import() is fetched when it is first wanted (and kept offline by the worker).
    """
    seen, todo = [], [entry]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.append(name)
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        todo += [posixpath.normpath(posixpath.join(posixpath.dirname(name), found)) for found in STATIC_IMPORT.findall(text)]
    return tuple(sorted(seen))


def first_load_urls(entry: str, *screens: str) -> list[str]:
    """The URLs of first_load(entry) and of each screen's first_load, once each, for <link rel="modulepreload">."""
    names = dict.fromkeys(first_load(entry))
    for screen in screens:
        names.update(dict.fromkeys(first_load(screen)))
    return [static(name) for name in names]


def import_map(folders: tuple[str, ...]) -> str:
    """The import map of the modules in the folders, as JSON for a <script type="importmap">."""
    imports = {settings.STATIC_URL + name: static(name) for name in static_files(folders, (".js",))}
    # "<" is escaped so that no string can close the script element early.
    return json.dumps({"imports": imports}).replace("<", "\\u003c")
