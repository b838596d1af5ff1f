"""About the surgery (`about:`) and its glossary (`glossary:`): what the operation is, in plain words.

    about:
      pages:               # one page per topic, in the order the patient reads them
        - {key, title, text, source_section, translations: {es: {title, text, source_section}}}
        - key: compared    # a page may carry a small table: minimally invasive against open surgery
          table:
            - {key, label, minimally_invasive, open, translations: {es: {label, minimally_invasive, open}}}
        - key: mis-tlif    # an approach's own page: shown first to a patient having that approach
          approach: mis-tlif
        - key: recovery    # a page may list recovery stages (keys of recovery_stages) by their labels
          stages: [first-days, ...]
    glossary:
      - {key, term, text, matches: [words as the texts write them], source_section,
         translations: {es: {term, text, matches, source_section}}}

A page's `text` is its paragraphs, one a line. Every page names the guide section it comes
from, in each language. A glossary entry's `matches` are the words that link to it wherever a
patient reads them (a step's texts, a rule, an about page), whole words and in any case; each
entry must be met in the protocol's own texts in every language, so that no entry is dead and
a typo in a match is caught on load. The stored forms (ProtocolVersion.about and .glossary)
are the file's, normalised.
"""

from __future__ import annotations

import re

from checklists.protocol_files.common import _duplicates, _fail, _require_str, _unknown, check_translations
from prepapp.procedures import APPROACHES

PAGE_KEYS = {"key", "title", "text", "source_section", "approach", "table", "stages", "translations"}
PAGE_TEXTS = ("title", "text", "source_section")
ROW_TEXTS = ("label", "minimally_invasive", "open")
ENTRY_KEYS = {"key", "term", "text", "matches", "source_section", "translations"}
ENTRY_TEXTS = ("term", "text", "source_section")
_KEY = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def _check_key(value, where: str) -> str:
    _require_str(value, where, max_length=40)
    if not _KEY.fullmatch(value):
        _fail(where, f"{value!r}: use lower-case letters, digits and hyphens")
    return value


def _check_row(row, *, languages, where: str) -> dict:
    if not isinstance(row, dict):
        _fail(where, "must be a mapping")
    _unknown(row.keys(), {"key", *ROW_TEXTS, "translations"}, where)
    key = _check_key(row.get("key"), f"{where}.key")
    for field in ROW_TEXTS:
        _require_str(row.get(field), f"{where}.{field}", max_length=120)
    return {
        "key": key,
        **{field: row[field].strip() for field in ROW_TEXTS},
        "translations": check_translations(row.get("translations"), ROW_TEXTS, languages=languages,
                                           where=f"{where}.translations"),
    }


def _check_page(page, *, languages, stage_keys, where: str) -> dict:
    if not isinstance(page, dict):
        _fail(where, "must be a mapping")
    missing = {"key", *PAGE_TEXTS} - page.keys()
    if missing:
        _fail(where, f"missing key(s) {', '.join(sorted(missing))}")
    _unknown(page.keys(), PAGE_KEYS, where)
    key = _check_key(page["key"], f"{where}.key")
    _require_str(page["title"], f"{where}.title", max_length=120)
    _require_str(page["text"], f"{where}.text", max_length=3000)
    _require_str(page["source_section"], f"{where}.source_section", max_length=300)
    approach = page.get("approach") or ""
    if approach and approach not in APPROACHES:
        _fail(f"{where}.approach", f"{approach!r} is not one of {', '.join(APPROACHES)}")
    table = page.get("table") or []
    if not isinstance(table, list):
        _fail(f"{where}.table", "must be a list of rows")
    rows = [_check_row(row, languages=languages, where=f"{where}.table[{i}]") for i, row in enumerate(table)]
    _duplicates([row["key"] for row in rows], f"{where}.table", "row")
    stages = page.get("stages") or []
    if not isinstance(stages, list) or not all(isinstance(s, str) for s in stages):
        _fail(f"{where}.stages", "must be a list of recovery stage keys")
    unknown = [s for s in stages if s not in stage_keys]
    if unknown:
        _fail(f"{where}.stages", f"{', '.join(unknown)}: not a recovery stage of this protocol")
    return {
        "key": key,
        **{field: page[field].strip() for field in PAGE_TEXTS},
        "approach": approach,
        "table": rows,
        "stages": stages,
        "translations": check_translations(page.get("translations"), PAGE_TEXTS, languages=languages,
                                           where=f"{where}.translations"),
    }


def check_about(section, *, languages, stage_keys, where: str) -> dict:
    """The about pages (from the file, or as stored), checked; {} when the protocol has none."""
    if not section:
        return {}
    if not isinstance(section, dict) or set(section) != {"pages"}:
        _fail(where, "must have exactly 'pages'")
    pages = section["pages"]
    if not isinstance(pages, list) or not pages:
        _fail(f"{where}.pages", "must be a non-empty list")
    checked = [
        _check_page(page, languages=languages, stage_keys=set(stage_keys), where=f"{where}.pages[{i}]")
        for i, page in enumerate(pages)
    ]
    _duplicates([page["key"] for page in checked], f"{where}.pages", "page")
    approaches = [page["approach"] for page in checked if page["approach"]]
    _duplicates(approaches, f"{where}.pages", "approach")
    return {"pages": checked}


def _check_matches(matches, where: str) -> list[str]:
    if not isinstance(matches, list) or not matches:
        _fail(where, "must be a non-empty list of the words that link to the entry")
    for i, match in enumerate(matches):
        _require_str(match, f"{where}[{i}]", max_length=60)
    return [match.strip() for match in matches]


def _check_entry(entry, *, languages, where: str) -> dict:
    if not isinstance(entry, dict):
        _fail(where, "must be a mapping")
    missing = ENTRY_KEYS - {"translations"} - entry.keys()
    if missing:
        _fail(where, f"missing key(s) {', '.join(sorted(missing))}")
    _unknown(entry.keys(), ENTRY_KEYS, where)
    key = _check_key(entry["key"], f"{where}.key")
    _require_str(entry["term"], f"{where}.term", max_length=80)
    _require_str(entry["text"], f"{where}.text", max_length=600)
    _require_str(entry["source_section"], f"{where}.source_section", max_length=300)
    translations = check_translations(entry.get("translations"), ENTRY_TEXTS, languages=languages,
                                      where=f"{where}.translations", optional=("matches",))
    for language in sorted(languages):
        translations[language]["matches"] = _check_matches(
            translations[language].get("matches"), f"{where}.translations.{language}.matches"
        )
    return {
        "key": key,
        **{field: entry[field].strip() for field in ENTRY_TEXTS},
        "matches": _check_matches(entry["matches"], f"{where}.matches"),
        "translations": translations,
    }


def term_pattern(matches) -> re.Pattern:
    """The words of `matches` as whole words, in any case, the longest first ("no BLT" before "BLT").

    The patient app links terms with the same rule (screens/terms.js).
    """
    alternatives = sorted({m for m in matches if m}, key=lambda m: (-len(m), m))
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, alternatives)) + r")(?!\w)", re.IGNORECASE)


def _localized(item: dict, field: str, language: str):
    if language == "":
        return item.get(field)
    return ((item.get("translations") or {}).get(language) or {}).get(field) or item.get(field)


def protocol_texts(tasks, rules, about, language: str) -> list[str]:
    """What the patient reads in a language, where glossary terms are linked: steps, rules, about pages."""
    texts = []
    for task in tasks:
        texts += [_localized(task, field, language) or "" for field in ("title", "instructions", "why")]
    for rule in rules or []:
        texts += [_localized(rule, field, language) or "" for field in ("title", "text")]
    for page in (about or {}).get("pages", []):
        texts += [_localized(page, field, language) or "" for field in ("title", "text")]
    return texts


def check_glossary(section, *, languages, texts_by_language: dict, where: str) -> list[dict]:
    """The glossary (from the file, or as stored), checked; [] when the protocol has none.

    `texts_by_language` holds what the patient reads in each language ("" the base one), where
    each entry must be met at least once.
    """
    if not section:
        return []
    if not isinstance(section, list):
        _fail(where, "must be a list of entries")
    checked = [_check_entry(entry, languages=languages, where=f"{where}[{i}]") for i, entry in enumerate(section)]
    _duplicates([entry["key"] for entry in checked], where, "entry")
    for language, texts in texts_by_language.items():
        body = "\n".join(texts)
        for i, entry in enumerate(checked):
            matches = entry["translations"][language]["matches"] if language else entry["matches"]
            if not term_pattern(matches).search(body):
                place = f"{where}[{i}].translations.{language}.matches" if language else f"{where}[{i}].matches"
                _fail(place, f"none of {', '.join(matches)} is in the protocol's texts: the entry would link nowhere")
    return checked
