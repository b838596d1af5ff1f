"""What every part of a protocol file's validation shares: the error, the checks of single values, phases."""

from __future__ import annotations

from prepapp.facts import FACT_NAMES


class ProtocolFileError(ValueError):
    pass


# A step's phase is not stored: it follows from the sign of its due day. Steps due on or
# before the surgery day prepare for it; steps due after it belong to the recovery.
PREPARATION, RECOVERY = "preparation", "recovery"


def phase_of(offset_days: int) -> str:
    return RECOVERY if offset_days > 0 else PREPARATION


def _fail(where: str, message: str):
    raise ProtocolFileError(f"{where}: {message}")


def _require_str(value, where: str, *, max_length: int | None = None):
    if not isinstance(value, str) or not value.strip():
        _fail(where, "must be non-empty text")
    if max_length and len(value) > max_length:
        _fail(where, f"must be at most {max_length} characters (has {len(value)})")


def _require_int(value, where: str):
    if not isinstance(value, int) or isinstance(value, bool):
        _fail(where, f"must be a whole number of days, not {value!r}")


def _unknown(keys, allowed, where: str):
    extra = set(keys) - set(allowed)
    if extra:
        _fail(where, f"unknown key(s) {', '.join(sorted(extra))}")


def _duplicates(keys, where: str, what: str):
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        _fail(where, f"duplicate {what} key(s) {', '.join(duplicates)}")


def check_applies_if(applies_if, where: str) -> dict:
    """A step's (or a rule's) conditions: {fact: true/false}, each fact one the patient record knows."""
    applies_if = applies_if or {}
    if not isinstance(applies_if, dict):
        _fail(where, "must be a mapping of fact: true/false")
    for fact, wanted in applies_if.items():
        if fact not in FACT_NAMES:
            _fail(f"{where}.{fact}", f"unknown fact; known facts are {', '.join(FACT_NAMES)}")
        if not isinstance(wanted, bool):
            _fail(f"{where}.{fact}", "must be true or false")
    return applies_if


def check_translations(translations, fields, *, languages, where: str, optional=()) -> dict:
    """The translations of one item of a section: each of the protocol's languages, every field in it.

    Every text a patient reads is in each language the protocol is translated into (its
    top-level `translations`), and in no other; `optional` fields may be given as well.
    Returns the translations with their texts stripped.
    """
    translations = translations or {}
    if not isinstance(translations, dict):
        _fail(where, "must be a mapping of language: texts")
    _unknown(translations.keys(), languages, where)
    result = {}
    for language in sorted(languages):
        texts, t_where = translations.get(language), f"{where}.{language}"
        if not isinstance(texts, dict):
            _fail(t_where, "is missing: every text is translated into the protocol's languages")
        _unknown(texts.keys(), set(fields) | set(optional), t_where)
        for field in fields:
            _require_str(texts.get(field), f"{t_where}.{field}")
        result[language] = {k: v.strip() if isinstance(v, str) else v for k, v in texts.items()}
    return result
