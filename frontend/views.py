"""Pages of the patient app: the shell, its service worker, its manifest and its translations.

Every patient screen is drawn in the browser from the same shell; the shell is rendered in
the signed-in patient's language so that it also reads right when it comes from the
service worker's cache, offline.
"""

import hashlib
import json
import os
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_GET
from django.views.i18n import JavaScriptCatalog, JSONCatalog
from rjsmin import jsmin

from checklists.models import Task
from checklists.selectors import checklist_current
from prepapp.api.checklist_parts import texts_url as checklist_texts_url
from prepapp.models import CaregiverSettings
from prepapp.permissions import patient_of
from prepapp.reminders import receipts
from prepapp.reminders.compose import task_path
from prepapp.reminders.models import CHECK_IN_RULE, Reminder
from prepapp.reminders.safety_words import CHECK_IN_PATH

from .catalog import first_strings, only, part_name, part_strings, parts
from .modules import PATIENT_APP, PATIENT_ENTRY, first_load_urls, import_map, static_files

LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}

ICONS = [
    ("frontend/patient/icons/icon-192.png", "192x192", "any"),
    ("frontend/patient/icons/icon-512.png", "512x512", "any"),
    ("frontend/patient/icons/maskable-512.png", "512x512", "maskable"),
]
THEME_COLOR = "#1d5c63"
BACKGROUND_COLOR = "#f7f5f0"


def _shell_static() -> list[str]:
    """The files the phone needs to draw every screen offline (besides the shell and catalog).

    Every module and style sheet of the app, found in its folders: a new module is cached
    for offline use without anyone having to list it.
    """
    return static_files(PATIENT_APP) + [name for name, _size, _purpose in ICONS]


def _language_for(request) -> str:
    """The patient's chosen language when signed in, else what the browser asked for."""
    patient = patient_of(request.user)
    if patient is not None and patient.language in LANGUAGE_CODES:
        return patient.language
    own = caregiver_language(request.user)
    if own in LANGUAGE_CODES:
        return own
    return translation.get_language() or settings.LANGUAGE_CODE


# The shell and the translations go compressed: neither carries a secret nor echoes anything from
# the request (the CSRF token is in a cookie, and the CSP nonce is new on every answer), so
# BREACH has nothing to recover from their sizes (see prepapp/lib/compression.py).
def _first_screen(request) -> list[str]:
    """The module of the screen this address opens (app.js loads every screen lazily).

    Preloaded with the app (and the modules it imports), it arrives with the rest instead of
    one round trip after the app has started; the other screens' modules are not preloaded.
    Every other address of the app opens the home screen, as app.js's routes do.
    """
    if not request.user.is_authenticated:
        return ["frontend/patient/screens/sign_in.js"]
    for prefix, name in LAZY_SCREENS:
        if request.path.startswith(prefix):
            return [f"frontend/patient/screens/{name}.js"]
    return ["frontend/patient/screens/home.js"]


def _session_hints(request) -> dict:
    """What lets the app start its reads at once: who is signed in, and where their checklist's texts are.

    "none": nobody (the sign-in screen, without asking me/); "patient": the patient's state,
    safety card and texts are fetched alongside me/ instead of after it. Only hints: the
    answers of the API decide (a copy of this page kept offline may be old).
    """
    if not request.user.is_authenticated:
        return {"session": "none"}
    patient = patient_of(request.user)
    if patient is None:
        return {}
    checklist = checklist_current(patient)
    if checklist is None or patient.language not in LANGUAGE_CODES:
        return {"session": "patient"}
    return {"session": "patient", "texts_url": checklist_texts_url(checklist.protocol_version, patient.language)}


LAZY_SCREENS = [
    ("/tasks/", "step"), ("/inbox/", "inbox"), ("/settings/", "settings"), ("/access/", "access_log"),
    ("/health-check/", "health_check"), ("/when-to-call/", "when_to_call"), ("/check-in/", "check_in"),
    ("/about/", "about"),
]


def caregiver_language(user) -> str | None:
    """A caregiver's own language (their settings), or None for anyone else."""
    if not getattr(user, "is_authenticated", False):
        return None
    return CaregiverSettings.objects.filter(user_id=user.pk).values_list("language", flat=True).first()


@require_GET
@gzip_page
@never_cache
@ensure_csrf_cookie
def patient_app(request, **_route):
    """The app shell: the same page for every patient screen; the ES modules draw the screen."""
    language = _language_for(request)
    first_screen = _first_screen(request)
    with translation.override(language):
        response = render(
            request,
            "frontend/app.html",
            {
                "language": language,
                "catalog_url": reverse("patient-catalog", args=[language]),
                "theme_color": THEME_COLOR,
                "import_map": import_map(PATIENT_APP),
                "strings_url": reverse("patient-strings", args=[language, "_"]).removesuffix("_.json"),
                "first_strings": _inline_strings(request, language, first_screen),
                "modules": first_load_urls(PATIENT_ENTRY, *first_screen),
                **_session_hints(request),
            },
        )
    # API calls after this page then speak the patient's language too (category names).
    signed_in = patient_of(request.user) is not None or caregiver_language(request.user) is not None
    if signed_in and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != language:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME, language, max_age=365 * 24 * 3600, samesite="Lax",
            secure=request.is_secure(),
        )
    return response


class _FirstLoadCatalog(JavaScriptCatalog):
    """Django's JavaScript catalogue (gettext, ngettext, the formats) with the first load's strings only."""

    def get_catalog(self):
        return only(super().get_catalog(), first_strings())


class _PartCatalog(JSONCatalog):
    """One lazily loaded module's strings, as JSON: {"catalog": {msgid: translation}}."""

    keys = frozenset()

    def get_context_data(self, **kwargs):
        return {"catalog": only(self.get_catalog(), self.keys)}


@require_GET
@gzip_page
def patient_catalog(request, lang: str):
    """The JavaScript translations of one language that the first screen needs, at a URL of its own so each caches apart.

    The strings of the screens loaded later come with them (patient_strings).
    """
    if lang not in LANGUAGE_CODES:
        raise Http404("No such language.")
    if lang not in _first_catalogs:
        with translation.override(lang):
            script = _FirstLoadCatalog.as_view(packages=["frontend"])(request).content.decode("utf-8")
        # Minified as the app's own scripts are (Django's template is indented for reading); the
        # .mo files do not change while a process runs, so once per language.
        _first_catalogs[lang] = jsmin(script).encode("utf-8")
    response = HttpResponse(_first_catalogs[lang], content_type='text/javascript; charset="utf-8"')
    response["Cache-Control"] = "no-cache"
    return response


_first_catalogs: dict[str, bytes] = {}


@require_GET
@gzip_page
def patient_strings(request, lang: str, part: str):
    """The translations of one lazily loaded module of the app (its part's name: the file's stem), as JSON."""
    if lang not in LANGUAGE_CODES or part not in parts():
        raise Http404("No such part.")
    response = _part_response(request, lang, part)
    response["Cache-Control"] = "no-cache"
    return response


def _part_response(request, lang: str, part: str):
    with translation.override(lang):
        return _PartCatalog.as_view(packages=["frontend"], keys=part_strings(part))(request)


# The strings a shell carries, by (language, part): the .mo files do not change while a process runs.
_inlined: dict[tuple[str, str], str] = {}


def _inline_strings(request, language: str, first_screen: list[str]) -> str:
    """The strings of the screen this address opens, for the shell to carry (no round trip before it draws).

    As JSON for a <script type="application/json">, "<" escaped so that no string ends the element.
    """
    opened = [part_name(name) for name in first_screen if part_name(name) in parts()]
    if not opened:
        return ""
    key = (language, opened[0])
    if key not in _inlined:
        catalog = json.loads(_part_response(request, language, opened[0]).content)["catalog"]
        _inlined[key] = json.dumps({"part": opened[0], "catalog": catalog}, ensure_ascii=False).replace("<", "\\u003c")
    return _inlined[key]


def _precache_urls() -> list[str]:
    urls = [reverse("patient-app")]
    urls += [reverse("patient-catalog", args=[code]) for code in sorted(LANGUAGE_CODES)]
    urls += [reverse("patient-strings", args=[code, part]) for code in sorted(LANGUAGE_CODES) for part in parts()]
    urls += [static(name) for name in _shell_static()]
    urls.append(reverse("patient-manifest"))
    return list(dict.fromkeys(urls))


def _version(urls: list[str]) -> str:
    """Changes whenever a file the worker caches changes, so phones pick up a new release.

    With hashed static names the URLs already change; with plain names (development,
    tests) and for the shell and translations the files' contents are hashed. Contents,
    not modification times, so that every web host of one release serves the same worker.
    """
    digest = hashlib.sha256(json.dumps(urls).encode())
    here = Path(__file__).resolve().parent
    files = [finders.find(name) for name in _shell_static()]
    files += [here / "templates" / "frontend" / "app.html", here / "templates" / "frontend" / "sw.js"]
    files += sorted(Path(settings.BASE_DIR, "locale").glob("*/LC_MESSAGES/*.mo"))
    for path in files:
        if path and os.path.exists(path):
            digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]


@require_GET
def service_worker(request):
    """The service worker, from the site root so that its scope is the whole app."""
    urls = _precache_urls()
    with translation.override(_language_for(request)):
        body = render(
            request,
            "frontend/sw.js",
            {
                "version": _version(urls),
                "precache": json.dumps(urls),
                "shell_url": json.dumps(reverse("patient-app")),
                "static_prefix": json.dumps(settings.STATIC_URL),
                "icon_url": json.dumps(static(ICONS[0][0])),
                "default_title": json.dumps(_("A reminder from your care team")).replace("<", "\\u003c"),
            },
        ).content
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    # The browser must always look for a new worker; the worker itself decides what is cached.
    response["Cache-Control"] = "no-cache, max-age=0"
    response["Service-Worker-Allowed"] = "/"
    return response


@require_GET
def manifest(request):
    """The web app manifest, so the app can be added to the home screen and open full screen."""
    language = _language_for(request)
    with translation.override(language):
        data = {
            "id": reverse("patient-app"),
            "name": _("Getting ready for surgery"),
            "short_name": _("My surgery"),
            "description": _("Your countdown to surgery and what to do each week to get ready."),
            "lang": language,
            "start_url": reverse("patient-app"),
            "scope": "/",
            "display": "standalone",
            "orientation": "portrait",
            "background_color": BACKGROUND_COLOR,
            "theme_color": THEME_COLOR,
            "icons": [
                {"src": static(name), "sizes": size, "type": "image/png", "purpose": purpose}
                for name, size, purpose in ICONS
            ],
        }
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = "application/manifest+json"
    response["Cache-Control"] = "no-cache"
    return response


@never_cache
@require_GET
def open_message(request, token: str):
    """A link in a reminder email: note that the patient opened it, then show the step (or the app).

    The signed token in the link names the message and its patient. A token that was changed
    or is too old marks nothing and opens the app's home screen. Someone signed in as another
    patient gets a 404 and marks nothing. `?to=` names a step of the same patient to open.
    """
    signed_in = patient_of(request.user) if request.user.is_authenticated else None
    try:
        opened = receipts.reminder_mark_opened(token=token, patient_id=signed_in.pk if signed_in else None)
    except receipts.ReceiptError:
        return redirect("/")
    except Reminder.DoesNotExist as exc:
        raise Http404(_("No such message.")) from exc
    # A check-in day's reminder opens the check-in; the others the step named, or the home screen.
    target = CHECK_IN_PATH if opened.reminder.rule == CHECK_IN_RULE and opened.reminder.task_id is None else "/"
    task_id = request.GET.get("to", "")
    if task_id.isdigit() and Task.objects.filter(id=int(task_id), checklist__case__patient_id=opened.reminder.patient_id).exists():
        target = task_path(int(task_id))
    return redirect(target)
