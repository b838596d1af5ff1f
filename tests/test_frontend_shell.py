"""The patient app's shell, service worker, manifest and translations, as the server hands them out.

The browser tests drive the app itself; these check what must hold for any browser: the
worker's headers and precache list (hashed names in production), that every module the
patient app or a coordinator page imports is cached and in its import map, the manifest's fields
and icons, the size budget of everything the phone downloads to draw the app, and that
every string of the Spanish catalogs is translated.
"""

import gzip
import hashlib
import json
import posixpath
import re
import struct
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from checklists.models import Task
from frontend.storage import minified
from prepapp.services import patient_enrol
from prepapp.workflows import case_book, checklist_assign

from .factories import days_from_today

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "frontend" / "static"
# What the patient app is made of: its own folder and the modules it shares with the coordinator pages.
APP_FILES = sorted(
    path
    for folder in ("patient", "shared")
    for path in (STATIC / "frontend" / folder).rglob("*")
    if path.suffix in (".js", ".css")
)
LOCALE = ROOT / "locale" / "es" / "LC_MESSAGES"
# 50 KB until the safety net; its three modules (rules and day-of card, When to call, check-in),
# their styles and their Spanish strings measured 57.6 KB in all (from 47.3), so 60 KB. About your
# surgery (its pages, the glossary's words in the steps: two modules, styles, Spanish strings)
# took the total from 56.4 to 60.8 KB, so 64 KB. Caregivers (their module: the following bar,
# the patient's "People who help me") and the calendar feed in Settings, with their Spanish
# strings, took it to 65.7 KB, so 68 KB. Joining the checklist's two parts on the phone
# (checklist_data.js) and moving what the home screen draws of two screens into modules of their
# own (conditions.js, about_data.js), so that those screens load only when opened, took it to
# 68.2 KB; a caregiver's own screens (their Messages and Settings), the screens saying the
# followed patient's name, and their Spanish strings added about 5 KB more, so 76 KB. The app's
# scripts and styles minified as production serves them (frontend/storage.py), the catalogue in
# parts (a few strings repeat between parts): 65.1 KB, so 66 KB. The home screen loaded as the other
# screens are, so that the sign-in screen and a step's page do not download it: the shell of its
# address now carries its strings, which its part holds too (for a home screen opened from another),
# 2.9 KB in Spanish; ticking off and signing in and out moved to modules of their own; the shell
# starts the first screen's reads itself: 71.6 KB, so 72 KB now.
# (Everything the app can download, not its first load: see below.)
BUDGET_BYTES = 72 * 1024


def signed_in(patient) -> Client:
    client = Client()
    client.force_login(patient.user)
    return client


def static_url(path: Path) -> str:
    return "/static/" + path.relative_to(STATIC).as_posix()


# `import … from "./x.js"` (over several lines too), `import "./x.js"` and `import("./x.js")`.
IMPORT = re.compile(
    r"""^\s*import\s+(?:[\w*{}\s,]+?\s+from\s+)?["']([^"']+)["']"""  # static imports
    r"""|\bimport\(\s*["']([^"']+)["']\s*\)""",  # dynamic ones
    re.M,
)


def imported_modules(entry: str) -> set[str]:
    """The URL of every module that the entry module loads, itself included, directly or through others."""
    seen, todo = set(), [entry]
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        path = STATIC / url.removeprefix("/static/")
        assert path.is_file(), f"{url} is imported but does not exist"
        for match in IMPORT.finditer(path.read_text()):
            todo.append(posixpath.normpath(posixpath.join(posixpath.dirname(url), match.group(1) or match.group(2))))
    return seen


def static_imports(entry: str) -> set[str]:
    """The entry and what it imports statically, at any depth: what the browser fetches before it runs."""
    seen, todo = set(), [entry]
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        for match in IMPORT.finditer((STATIC / url.removeprefix("/static/")).read_text()):
            if match.group(1):
                todo.append(posixpath.normpath(posixpath.join(posixpath.dirname(url), match.group(1))))
    return seen


def import_map_of(html: str) -> dict[str, str]:
    return json.loads(re.search(r'<script type="importmap"[^>]*>(.*?)</script>', html).group(1))["imports"]


def preloads_of(html: str) -> set[str]:
    return set(re.findall(r'<link rel="modulepreload" href="([^"]+)">', html))


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


# --- The shell ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/", "/tasks/12/", "/inbox/", "/settings/", "/join/DEMO2345/", "/when-to-call/", "/check-in/", "/about/",
    "/about/compared/", "/about/words/",
])
def test_every_screen_of_the_app_is_the_same_shell(client, path):
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    assert '<script type="module" src="/static/frontend/patient/app.js"></script>' in html
    assert 'name="viewport"' in html and "user-scalable" not in html  # zooming stays allowed
    assert response["Cache-Control"].startswith("max-age=0") or "no-cache" in response["Cache-Control"]
    assert "csrftoken" in response.cookies


def test_the_shell_speaks_the_signed_in_patients_language(riverside):
    paul = patient_enrol(organization=riverside, full_name="Paul Other", language="es")
    response = signed_in(paul).get("/", HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert '<html lang="es">' in html
    assert "Preparándose para la cirugía" in html
    assert '<script defer fetchpriority="high" src="/app-i18n/es.js"></script>' in html
    # The API calls that follow get Spanish category names too.
    assert response.cookies["django_language"].value == "es"


def test_signed_out_the_shell_follows_the_browser(client):
    assert '<html lang="es">' in client.get("/", HTTP_ACCEPT_LANGUAGE="es-MX,es;q=0.9").content.decode()
    assert '<html lang="en">' in client.get("/", HTTP_ACCEPT_LANGUAGE="en-US").content.decode()


def test_the_javascript_catalog_has_one_url_per_language(client):
    spanish = client.get("/app-i18n/es.js")
    assert spanish.status_code == 200
    # The strings of the app's own modules; each screen's ("Para hacer esta semana" of the home
    # screen, "Marcar como hecho" of a step's) come with it (test_frontend_strings.py).
    assert "Todos los cambios se enviaron." in spanish.content.decode()
    assert "Para hacer esta semana" not in spanish.content.decode()
    english = client.get("/app-i18n/en.js", HTTP_ACCEPT_LANGUAGE="es")
    assert "Todos los cambios se enviaron." not in english.content.decode()
    assert client.get("/app-i18n/xx.js").status_code == 404


# --- Service worker ------------------------------------------------------------------------------


def precache_of(body: str) -> list[str]:
    return json.loads(re.search(r"const PRECACHE = (\[.*?\]);", body).group(1))


def test_the_service_worker_is_served_from_the_root_and_never_cached(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert "no-cache" in response["Cache-Control"]
    body = response.content.decode()
    precache = precache_of(body)
    for url in ["/", "/app-i18n/en.js", "/app-i18n/es.js", "/manifest.webmanifest",
                "/static/frontend/patient/app.js", "/static/frontend/patient/app.css"]:
        assert url in precache
    for path in APP_FILES:
        assert static_url(path) in precache, f"{path.name} would be missing offline"
    for event in ("install", "activate", "fetch", "push", "notificationclick", "pushsubscriptionchange"):
        assert f'addEventListener("{event}"' in body


def test_every_module_the_app_imports_is_cached_for_offline_use_and_in_its_import_map(client):
    """The precache list, the import map and the preloads come from the app's folders; this follows the imports."""
    precache = precache_of(client.get("/sw.js").content.decode())
    html = client.get("/").content.decode()
    import_map = import_map_of(html)
    entry = re.search(r'<script type="module" src="([^"]+)"', html).group(1)
    modules = imported_modules(entry)
    assert {"/static/frontend/patient/screens/home.js", "/static/frontend/shared/api.js"} <= modules
    for url in modules:
        assert url in precache, f"{url} is imported by the app but would be missing offline"
        assert url in import_map, f"{url} is imported by the app but missing from its import map"
    # Preloaded: what the app's first screen needs (its static imports), not the screens loaded later.
    first = static_imports(entry)
    # Signed out, the sign-in screen's module comes with them.
    assert preloads_of(html) == first | {"/static/frontend/patient/screens/sign_in.js"}
    assert "/static/frontend/patient/screens/settings.js" in modules - first


@pytest.mark.parametrize("page", ["roster", "enrol", "patient"])
def test_every_module_a_coordinator_page_imports_is_in_its_import_map(client, carol, pat, page):
    client.force_login(carol)
    urls = {"roster": "/coordinator/", "enrol": "/coordinator/enrol/", "patient": f"/coordinator/patients/{pat.id}/"}
    url = urls[page]
    html = client.get(url).content.decode()
    entry = re.search(r'<script type="module" src="([^"]+)"', html).group(1)
    assert entry == f"/static/frontend/coordinator/{page}.js"
    modules = imported_modules(entry)
    assert "/static/frontend/shared/api.js" in modules
    assert modules <= set(import_map_of(html)), "a module the page imports is missing from its import map"
    assert modules <= preloads_of(html)


def test_the_worker_version_changes_with_the_files_it_caches(client, settings):
    version = re.search(r'const VERSION = "(\w+)"', client.get("/sw.js").content.decode()).group(1)
    assert version == re.search(r'const VERSION = "(\w+)"', client.get("/sw.js").content.decode()).group(1)
    settings.STATIC_URL = "/assets/"
    assert version not in client.get("/sw.js").content.decode()


def test_with_hashed_static_names_the_worker_and_the_shell_name_the_hashed_files(client, settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    call_command("collectstatic", "--noinput", "-v0", "-i", "admin", "-i", "rest_framework",
                 "-i", "drf_spectacular_sidecar")
    precache = precache_of(client.get("/sw.js").content.decode())
    static_urls = [url for url in precache if url.startswith("/static/")]
    assert static_urls
    for url in static_urls:
        assert re.search(r"\.[0-9a-f]{12}\.(js|css|png)$", url), f"{url} is not a hashed name"
        assert (tmp_path / url.removeprefix("/static/")).exists()
    html = client.get("/").content.decode()
    import_map = import_map_of(html)
    # The modules import each other by plain relative names; the map sends each to its hashed file.
    assert import_map["/static/frontend/shared/api.js"] in static_urls
    assert import_map["/static/frontend/patient/screens/home.js"] in static_urls
    assert re.search(r'src="/static/frontend/patient/app\.[0-9a-f]{12}\.js"', html)


def test_collected_the_apps_scripts_and_styles_are_minified_and_hashed_as_minified(client, settings, tmp_path):
    """Production's storage: the hashed file, its name's hash and its .gz copy are all of the minified content."""
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "frontend.storage.MinifiedCompressedManifestStorage"},
    }
    call_command("collectstatic", "--noinput", "-v0", "-i", "admin", "-i", "rest_framework",
                 "-i", "drf_spectacular_sidecar")
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    for name in ("frontend/patient/app.js", "frontend/patient/screens/home.js", "frontend/patient/app.css"):
        source = (STATIC / name).read_bytes()
        served = (tmp_path / manifest[name]).read_bytes()
        assert served == minified(name, source)
        assert len(served) < 0.85 * len(source), f"{name}: {len(served)} of {len(source)} bytes"
        assert b"\n//" not in served and b"/**" not in served, f"{name} still has its comments"
        assert manifest[name].split(".")[-2] == hashlib.md5(served, usedforsecurity=False).hexdigest()[:12]
        assert gzip.decompress((tmp_path / (manifest[name] + ".gz")).read_bytes()) == served
    # What makes the code run is kept: strings, template literals and regular expressions.
    app = (tmp_path / manifest["frontend/patient/app.js"]).read_text()
    assert 'import("./screens/settings.js")' in app
    assert r"/^\/tasks\/(\d+)\/?$/" in app
    # The service worker names what is collected, and the shell's import map the same files.
    precache = [url for url in precache_of(client.get("/sw.js").content.decode()) if url.startswith("/static/")]
    assert f"/static/{manifest['frontend/patient/app.js']}" in precache
    for url in precache:
        assert (tmp_path / url.removeprefix("/static/")).exists(), url
    assert set(import_map_of(client.get("/").content.decode()).values()) <= set(precache)


# --- Manifest -------------------------------------------------------------------------------------


def test_the_manifest_makes_the_app_installable(client):
    response = client.get("/manifest.webmanifest")
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["name"] and manifest["short_name"]
    assert manifest["start_url"] == "/" and manifest["scope"] == "/"
    assert manifest["display"] == "standalone"
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["theme_color"])
    sizes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        path = ROOT / "frontend" / "static" / icon["src"].removeprefix("/static/")
        width, height = png_size(path.read_bytes())
        assert f"{width}x{height}" == icon["sizes"]


def test_the_manifest_is_in_the_patients_language(riverside):
    paul = patient_enrol(organization=riverside, full_name="Paul Other", language="es")
    manifest = json.loads(signed_in(paul).get("/manifest.webmanifest").content)
    assert manifest["lang"] == "es"
    assert manifest["name"] == "Preparándose para la cirugía"


# --- Size budget ------------------------------------------------------------------------------------


def test_everything_the_phone_downloads_for_the_app_fits_in_64_kb_gzipped(riverside, protocol_version, carol):
    """HTML + JS (modules, translations, service worker) + CSS, each gzipped as the server sends them."""
    paul = patient_enrol(organization=riverside, full_name="Paul Other", language="es")
    case = case_book(patient=paul, procedure="Lumbar fusion", surgery_date=days_from_today(30))
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    client = signed_in(paul)
    parts = {
        "shell": client.get("/").content,
        "catalog": client.get("/app-i18n/es.js").content,
        "service worker": client.get("/sw.js").content,
    }
    # The strings of the screens loaded later, each with its screen.
    for url in precache_of(parts["service worker"].decode()):
        if url.startswith("/app-i18n/es/"):
            parts[url] = client.get(url).content
    for path in APP_FILES:
        # As production serves them: minified when collected (frontend/storage.py).
        name = path.relative_to(STATIC).as_posix()
        parts[static_url(path)] = minified(name, path.read_bytes())
    sizes = {name: len(gzip.compress(data, compresslevel=9)) for name, data in parts.items()}
    total = sum(sizes.values())
    print(f"everything the app can download (es): {total} bytes gzipped in {len(sizes)} files")
    assert total <= BUDGET_BYTES, f"{total} bytes gzipped: {sizes}"


# The first load: the shell, the translations and the style sheet it names, and the modules it
# preloads (the app and what the home screen imports statically), as the server sends them,
# gzipped. With all 23 modules and style sheets preloaded and the shell and translations sent
# uncompressed it was about 59.9 KB (English) and 96.0 KB (Spanish); then 33.0 and 43.6 KB (34 and
# 46 KB budgets). Minified when collected (frontend/storage.py), with the shell's catalogue holding
# only the first load's strings (frontend/catalog.py) and the patient's caregivers card moved out
# of the home screen's imports: 24.0 and 29.0 KB, so 24 and 29 KB. Ticking off (ticks.js) and signing
# in and out (sign_in.js, sign_out.js) out of app.js, with their strings; the shell starting the
# screen's reads itself (0.25 KB more): 23.6 and 28.2 KB, so 24 and 28.5 KB now. The goal, 15 KB, is
# NOT met (docs/performance.md says what is left).
FIRST_LOAD_BYTES = {"en": 24 * 1024, "es": 28.5 * 1024}
# The sign-in screen's and a step's page's first loads, since the home screen is loaded as the other
# screens are (the shell preloads the screen its address opens): they were the home screen's and more
# (25.2 KB for the sign-in screen as served); now sign-in 18.7 KB (en) and 21.2 KB (es), a step
# 22.2 and 25.2 KB. The goal, 15 KB, is NOT met for these either.
OTHER_FIRST_LOAD_BYTES = {("sign-in", "en"): 18.5 * 1024, ("sign-in", "es"): 21 * 1024,
                          ("step", "en"): 22 * 1024, ("step", "es"): 25 * 1024}
FIRST_LOAD_GOAL_BYTES = 15 * 1024


def first_load_of(client, path: str) -> dict[str, int]:
    """What the shell at `path` makes the phone download before the first screen, gzipped: bytes per file."""
    shell = client.get(path, HTTP_ACCEPT_ENCODING="gzip")
    assert shell["Content-Encoding"] == "gzip"
    html = gzip.decompress(shell.content).decode()
    catalog_url = re.search(r'<script defer [^>]*src="([^"]+)"></script>', html).group(1)
    catalog = client.get(catalog_url, HTTP_ACCEPT_ENCODING="gzip")
    assert catalog["Content-Encoding"] == "gzip"
    sizes = {"shell": len(shell.content), catalog_url: len(catalog.content)}
    entry = re.search(r'<script type="module" src="([^"]+)"', html).group(1)
    styles = re.findall(r'<link rel="stylesheet" href="([^"]+)">', html)
    statics = {entry, *styles, *preloads_of(html)}
    assert static_imports(entry) <= statics
    for url in statics:
        # As production serves it: minified when collected (frontend/storage.py), then gzipped.
        name = url.removeprefix("/static/")
        sizes[url] = len(gzip.compress(minified(name, (STATIC / name).read_bytes()), compresslevel=9))
    return sizes


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_first_load_of_the_app_stays_within_its_budget(riverside, protocol_version, carol, language):
    paul = patient_enrol(organization=riverside, full_name="Paul Other", language=language)
    case = case_book(patient=paul, procedure="Lumbar fusion", surgery_date=days_from_today(30))
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    sizes = first_load_of(signed_in(paul), "/")
    total = sum(sizes.values())
    print(f"first load ({language}): {total} bytes gzipped in {len(sizes)} files (goal {FIRST_LOAD_GOAL_BYTES})")
    assert total <= FIRST_LOAD_BYTES[language], f"{total} bytes gzipped: {sizes}"


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("page", ["sign-in", "step"])
def test_the_sign_in_screen_and_a_step_load_without_the_home_screen(riverside, protocol_version, carol, page, language):
    paul = patient_enrol(organization=riverside, full_name="Paul Other", language=language)
    case = case_book(patient=paul, procedure="Lumbar fusion", surgery_date=days_from_today(30))
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    if page == "sign-in":
        client, path = Client(HTTP_ACCEPT_LANGUAGE=language), "/"
    else:
        client, path = signed_in(paul), f"/tasks/{Task.objects.filter(checklist__case__patient=paul).first().id}/"
    sizes = first_load_of(client, path)
    assert "/static/frontend/patient/screens/home.js" not in sizes
    total = sum(sizes.values())
    print(f"first load, {page} ({language}): {total} bytes gzipped in {len(sizes)} files (goal {FIRST_LOAD_GOAL_BYTES})")
    assert total <= OTHER_FIRST_LOAD_BYTES[page, language], f"{total} bytes gzipped: {sizes}"


# --- Translations -------------------------------------------------------------------------------------


def po_entries(path: Path) -> list[dict]:
    """msgid, msgid_plural, msgstr / msgstr[n] and flags of every live entry of a .po file."""
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        entry, key, flags = {}, None, ""
        for line in block.splitlines():
            if line.startswith("#~"):
                entry = {}
                break
            if line.startswith("#,"):
                flags = line
            elif line.startswith('"') and key:
                entry[key] += json.loads(line)
            elif not line.startswith("#") and " " in line:
                key, value = line.split(" ", 1)
                entry[key] = json.loads(value)
        if "msgid" in entry and entry["msgid"]:
            entry["flags"] = flags
            entries.append(entry)
    return entries


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_every_string_has_its_spanish_translation(domain):
    entries = po_entries(LOCALE / f"{domain}.po")
    assert entries
    untranslated = [
        e["msgid"] for e in entries
        if "fuzzy" in e["flags"] or any(v == "" for k, v in e.items() if k.startswith("msgstr"))
    ]
    assert untranslated == []
    plurals = [e for e in entries if "msgid_plural" in e]
    # Spanish has three plural forms in Django's catalogs (one, many for millions, other).
    assert all(len([k for k in e if k.startswith("msgstr[")]) == 3 for e in plurals)


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_the_compiled_catalogs_match_the_sources(domain):
    import gettext

    compiled = gettext.GNUTranslations((LOCALE / f"{domain}.mo").open("rb"))
    for entry in po_entries(LOCALE / f"{domain}.po"):
        if "msgid_plural" in entry:
            assert compiled.ngettext(entry["msgid"], entry["msgid_plural"], 5) == entry["msgstr[2]"]
        elif "msgctxt" in entry:
            assert compiled.pgettext(entry["msgctxt"], entry["msgid"]) == entry["msgstr"], "run compilemessages"
        else:
            assert compiled.gettext(entry["msgid"]) == entry["msgstr"], "run compilemessages"


def test_placeholders_survive_translation():
    for domain in ("django", "djangojs"):
        for entry in po_entries(LOCALE / f"{domain}.po"):
            wanted = sorted(re.findall(r"%\(\w+\)\w", entry["msgid"]))
            for key, text in entry.items():
                if key.startswith("msgstr"):
                    assert sorted(re.findall(r"%\(\w+\)\w", text)) == wanted, entry["msgid"]
