"""The patient app's translations in parts: the shell's catalogue has the first load's strings, each later screen brings its own.

Which module says which string is found here by looking for each msgid of the Spanish catalogue
as a string literal in the modules' text, not by the code that splits the catalogue (which reads
the gettext calls), so a string the split misses shows up below.
"""

import json
import re

import pytest

from checklists.models import Task
from prepapp.services import patient_enrol
from prepapp.workflows import case_book, checklist_assign

from .factories import days_from_today
from .test_frontend_shell import APP_FILES, IMPORT, LOCALE, STATIC, precache_of, signed_in, static_imports, static_url

ENTRY = "/static/frontend/patient/app.js"
APP = STATIC / "frontend" / "patient" / "app.js"


def catalog_of_script(body: str) -> dict:
    """The strings of a Django JavaScript catalogue (its `const newcatalog = {…};`)."""
    found = re.search(r"const newcatalog\s*=\s*", body)
    return json.JSONDecoder().raw_decode(body, found.end())[0] if found else {}


def referenced_msgids() -> dict[str, set[str]]:
    """Each module's msgids: every msgid of the Spanish djangojs catalogue that the module's text holds as a string literal."""
    entries = []
    for block in (LOCALE / "djangojs.po").read_text(encoding="utf-8").split("\n\n"):
        msgid = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
        if not msgid or block.lstrip().startswith("#~"):
            continue
        text = "".join(json.loads(line) for line in msgid.group(1).split("\n") if line)
        context = re.search(r'^msgctxt (".*")$', block, re.M)
        if text:
            entries.append((text, json.loads(context.group(1)) + "\x04" + text if context else text))
    by_module: dict[str, set[str]] = {}
    for path in APP_FILES:
        if path.suffix != ".js":
            continue
        source = path.read_text(encoding="utf-8")
        # The literal as written: in double quotes, its quotes escaped as JSON escapes them.
        found = {key for text, key in entries if json.dumps(text, ensure_ascii=False) in source}
        if found:
            by_module[static_url(path)] = found
    return by_module


def lazy_parts() -> dict[str, str]:
    """The modules app.js loads with import(), by their file's stem."""
    found = {}
    for match in re.finditer(r"""\bimport\(\s*["']([^"']+)["']\s*\)""", APP.read_text()):
        url = "/static/frontend/patient/" + match.group(1).removeprefix("./")
        found[url.rsplit("/", 1)[-1].removesuffix(".js")] = url
    return found


def test_every_string_is_in_the_shells_catalogue_or_in_the_part_of_the_screen_that_says_it(client):
    first_load = static_imports(ENTRY)
    first = catalog_of_script(client.get("/app-i18n/es.js").content.decode())
    everything = {m for ids in referenced_msgids().values() for m in ids}
    # Much less than the whole catalogue comes with the shell (the screens' strings come with them).
    assert 30 < len(first) < 0.2 * len(everything)
    parts = {}
    for part, url in lazy_parts().items():
        response = client.get(f"/app-i18n/es/{part}.json")
        parts[url] = response.json()["catalog"] if response.status_code == 200 else {}
    for module, msgids in referenced_msgids().items():
        if module in first_load:
            assert msgids <= set(first), f"{module}: {sorted(msgids - set(first))[:5]}"
            continue
        # A module loaded later: through the screen(s) that import it.
        owners = [url for url in parts if module in static_imports(url)]
        assert owners, f"{module} is loaded by no screen"
        for owner in owners:
            missing = msgids - set(first) - set(parts[owner])
            assert not missing, f"{owner} would show these in English: {sorted(missing)[:5]}"
    assert parts["/static/frontend/patient/screens/step.js"]["Mark as done"] == "Marcar como hecho"
    assert "Mark as done" not in first


def test_each_lazy_import_of_the_app_waits_for_its_strings():
    """app.js loads every screen with strings through withStrings(part, import(…)) of that same part."""
    text = APP.read_text()
    wrapped = dict((m.group(2), m.group(1)) for m in re.finditer(r'withStrings\("(\w+)", import\("([^"]+)"\)\)', text))
    for match in IMPORT.finditer(text):
        if match.group(2) and match.group(2) != "./push.js":  # push.js says nothing on screen
            stem = match.group(2).rsplit("/", 1)[-1].removesuffix(".js")
            assert wrapped.get(match.group(2)) == stem, f"{match.group(2)} is loaded without its strings"


def test_a_part_is_json_of_its_strings_and_an_unknown_one_is_404(client):
    response = client.get("/app-i18n/es/settings.json")
    assert response["Content-Type"] == "application/json"
    assert response.json()["catalog"]["Language"] == "Idioma"
    assert client.get("/app-i18n/en/settings.json").json() == {"catalog": {}}
    assert client.get("/app-i18n/es/nothing.json").status_code == 404
    assert client.get("/app-i18n/es/push.json").status_code == 404  # no strings of its own
    assert client.get("/app-i18n/xx/settings.json").status_code == 404


def test_the_service_worker_keeps_every_part_for_offline_use(client):
    precache = precache_of(client.get("/sw.js").content.decode())
    for part in set(lazy_parts()) - {"push"}:
        for language in ("en", "es"):
            assert f"/app-i18n/{language}/{part}.json" in precache


@pytest.mark.parametrize(("path", "part", "spanish"), [
    ("/tasks/{task}/", "step", "Marcar como hecho"),
    ("/settings/", "settings", "Idioma"),
])
def test_the_shell_carries_the_strings_of_the_screen_its_address_opens(
        riverside, protocol_version, carol, path, part, spanish):
    paul = patient_enrol(organization=riverside, full_name="Paul Other", language="es")
    case = case_book(patient=paul, procedure="Lumbar fusion", surgery_date=days_from_today(30))
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    client = signed_in(paul)
    task = Task.objects.filter(checklist__case__patient=paul).first()
    html = client.get(path.format(task=task.id)).content.decode()
    carried = json.loads(re.search(r'<script type="application/json" id="first-strings">(.*?)</script>', html).group(1))
    assert carried["part"] == part
    assert spanish in carried["catalog"].values()
    assert 'data-strings="/app-i18n/es/"' in html
    # The home screen is loaded as the others are: its address's shell carries its strings.
    home = client.get("/").content.decode()
    carried = json.loads(re.search(r'<script type="application/json" id="first-strings">(.*?)</script>', home).group(1))
    assert carried["part"] == "home"
    assert "Para hacer esta semana" in carried["catalog"].values()
