"""Warning signs (`warning_signs:`): what must not wait, and whom to call.

    warning_signs:
      urgencies:           # what the patient does, for each level (the app adds the phone numbers)
        emergency: {action: ..., translations: {es: {action: ...}}}
        call_today: ...
        before_surgery: ...
      signs:
        - {key, urgency, phase, text, source_section, translations: {es: {text}}}

`urgency` is `emergency` (call emergency services now), `call_today` (call the care team
today) or `before_surgery` (call before coming in); `phase` is when the sign is shown:
`preparation`, `recovery` or `both`. A sign the guide does not give says where it comes from
in `source_section` with one of GENERAL_PRACTICE, so a clinical lead can find and review it.
The stored form (ProtocolVersion.warning_signs) is the file's, normalised.
"""

from __future__ import annotations

from checklists.protocol_files.common import (
    PREPARATION,
    RECOVERY,
    _duplicates,
    _fail,
    _require_str,
    _unknown,
    check_translations,
)

# Most urgent first: the order the signs are shown in, and how answers are ranked.
URGENCIES = ("emergency", "call_today", "before_surgery")
BOTH = "both"
SIGN_PHASES = (PREPARATION, RECOVERY, BOTH)
# What source_section says, exactly, for a sign (or a step) the guide does not give.
GENERAL_PRACTICE = ("general post-operative practice", "general pre-operative practice")
SIGN_KEYS = {"key", "urgency", "phase", "text", "source_section", "translations"}


def shown_in(sign: dict, phase: str) -> bool:
    """Whether a (checked) sign belongs to the phase: its own, or both."""
    return sign["phase"] in (phase, BOTH)


def _check_urgencies(urgencies, *, languages, where: str) -> dict:
    if not isinstance(urgencies, dict):
        _fail(where, f"must be a mapping with {', '.join(URGENCIES)}")
    _unknown(urgencies.keys(), URGENCIES, where)
    result = {}
    for urgency in URGENCIES:
        entry, u_where = urgencies.get(urgency), f"{where}.{urgency}"
        if not isinstance(entry, dict):
            _fail(u_where, "is missing: every urgency says what the patient does")
        _unknown(entry.keys(), {"action", "translations"}, u_where)
        _require_str(entry.get("action"), f"{u_where}.action", max_length=300)
        result[urgency] = {
            "action": entry["action"].strip(),
            "translations": check_translations(
                entry.get("translations"), ("action",), languages=languages, where=f"{u_where}.translations"
            ),
        }
    return result


def _check_sign(sign, *, languages, where: str) -> dict:
    if not isinstance(sign, dict):
        _fail(where, "must be a mapping")
    missing = SIGN_KEYS - {"translations"} - sign.keys()
    if missing:
        _fail(where, f"missing key(s) {', '.join(sorted(missing))}")
    _unknown(sign.keys(), SIGN_KEYS, where)
    _require_str(sign["key"], f"{where}.key", max_length=80)
    urgency, phase = sign["urgency"], sign["phase"]
    if urgency not in URGENCIES:
        _fail(f"{where}.urgency", f"{urgency!r} is not one of {', '.join(URGENCIES)}")
    if phase not in SIGN_PHASES:
        _fail(f"{where}.phase", f"{phase!r} is not one of {', '.join(SIGN_PHASES)}")
    if urgency == "before_surgery" and phase != PREPARATION:
        _fail(f"{where}.phase", "a sign to call about before coming in belongs to the preparation only")
    _require_str(sign["text"], f"{where}.text", max_length=400)
    _require_str(sign["source_section"], f"{where}.source_section", max_length=300)
    source = sign["source_section"].strip()
    if source.lower() in GENERAL_PRACTICE and source not in GENERAL_PRACTICE:
        _fail(f"{where}.source_section", f"write it exactly as one of: {'; '.join(GENERAL_PRACTICE)}")
    return {
        "key": sign["key"],
        "urgency": urgency,
        "phase": phase,
        "text": sign["text"].strip(),
        "source_section": source,
        "translations": check_translations(
            sign.get("translations"), ("text",), languages=languages, where=f"{where}.translations"
        ),
    }


def check_warning_signs(section, *, languages, where: str) -> dict:
    """The section (from the file, or as stored), checked; {} when the protocol has none."""
    if not section:
        return {}
    if not isinstance(section, dict) or set(section) != {"urgencies", "signs"}:
        _fail(where, "must have exactly 'urgencies' and 'signs'")
    urgencies = _check_urgencies(section["urgencies"], languages=languages, where=f"{where}.urgencies")
    signs = section["signs"]
    if not isinstance(signs, list) or not signs:
        _fail(f"{where}.signs", "must be a non-empty list")
    checked = [_check_sign(sign, languages=languages, where=f"{where}.signs[{i}]") for i, sign in enumerate(signs)]
    _duplicates([sign["key"] for sign in checked], f"{where}.signs", "sign")
    return {"urgencies": urgencies, "signs": checked}
