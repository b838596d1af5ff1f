"""Rules in force (`rules:`): what the patient keeps doing or avoiding from one day to another.

A rule is never ticked off. It has a span in days from surgery: from `start` to `end`, both
included, or from `start` until the care team lifts it (`until_lifted: true`), and it may
apply only to some patients (`applies_if`, read like a step's). Its `title` and `text` are
in the patient's words, translated like everything else, with the guide section it comes from.

The stored form (ProtocolVersion.rules) is the file's, normalised: both `end` (None until
lifted) and `until_lifted` are always there, so checking a stored rule again gives it back.
"""

from __future__ import annotations

from checklists.protocol_files.common import (
    _duplicates,
    _fail,
    _require_int,
    _require_str,
    _unknown,
    check_applies_if,
    check_translations,
)

RULE_REQUIRED = {"key", "start", "title", "text", "source_section"}
RULE_KEYS = RULE_REQUIRED | {"end", "until_lifted", "applies_if", "translations"}


def check_rule(rule, *, languages, where: str) -> dict:
    if not isinstance(rule, dict):
        _fail(where, "must be a mapping")
    missing = RULE_REQUIRED - rule.keys()
    if missing:
        _fail(where, f"missing key(s) {', '.join(sorted(missing))}")
    _unknown(rule.keys(), RULE_KEYS, where)
    _require_str(rule["key"], f"{where}.key", max_length=80)
    _require_int(rule["start"], f"{where}.start")
    until_lifted, end = rule.get("until_lifted", False), rule.get("end")
    if not isinstance(until_lifted, bool):
        _fail(f"{where}.until_lifted", f"must be true or false, not {until_lifted!r}")
    if until_lifted and end is not None:
        _fail(where, "has both an end and until_lifted: give one or the other")
    if not until_lifted:
        if end is None:
            _fail(where, "needs an end (a day from surgery) or until_lifted: true")
        _require_int(end, f"{where}.end")
        if end < rule["start"]:
            _fail(f"{where}.end", f"{end} is before the start ({rule['start']})")
    _require_str(rule["title"], f"{where}.title", max_length=200)
    _require_str(rule["text"], f"{where}.text")
    _require_str(rule["source_section"], f"{where}.source_section", max_length=300)
    return {
        "key": rule["key"],
        "start": rule["start"],
        "end": None if until_lifted else end,
        "until_lifted": until_lifted,
        "applies_if": check_applies_if(rule.get("applies_if"), f"{where}.applies_if"),
        "title": rule["title"].strip(),
        "text": rule["text"].strip(),
        "source_section": rule["source_section"].strip(),
        "translations": check_translations(
            rule.get("translations"), ("title", "text"), languages=languages, where=f"{where}.translations"
        ),
    }


def check_rules(rules, *, languages, where: str) -> list[dict]:
    """The protocol's rules (from its file, or as a draft stored them), checked; none is fine."""
    rules = rules or []
    if not isinstance(rules, list):
        _fail(where, "must be a list")
    checked = [check_rule(rule, languages=languages, where=f"{where}[{i}]") for i, rule in enumerate(rules)]
    _duplicates([rule["key"] for rule in checked], where, "rule")
    return checked
