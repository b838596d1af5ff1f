"""The check-in at home after surgery (`check_in:`): its questions, and which answers are red flags.

    check_in:
      intro: ...                # shown above the questions
      all_clear: ...            # shown when no answer matches a warning sign
      translations: {es: {intro, all_clear}}
      questions:
        - {key, kind: scale, min: 0, max: 10, text, translations: {es: {text}}}
        - key: wound
          kind: choice
          text: ...
          options:
            - {key: fine, text: ...}
            - {key: red-or-swollen, text: ..., signs: [wound-infection]}
          translations: {es: {text: ..., options: {fine: ..., red-or-swollen: ...}}}

An option that matches warning signs names them (`signs`, keys of the protocol's
warning_signs shown after surgery), so each red-flag answer maps to an urgency. The stored
form (ProtocolVersion.check_in) is the file's, normalised (every option has its `signs`).
"""

from __future__ import annotations

from checklists.protocol_files.common import (
    RECOVERY,
    _duplicates,
    _fail,
    _require_int,
    _require_str,
    _unknown,
    check_translations,
)
from checklists.protocol_files.warning_signs import shown_in

KINDS = ("scale", "choice")
QUESTION_KEYS = {"scale": {"key", "kind", "min", "max", "text", "translations"},
                 "choice": {"key", "kind", "text", "options", "translations"}}


def _check_options(question: dict, signs: dict, *, languages, where: str) -> list[dict]:
    options = question.get("options")
    if not isinstance(options, list) or len(options) < 2:
        _fail(f"{where}.options", "must list at least two answers")
    checked = []
    for i, option in enumerate(options):
        o_where = f"{where}.options[{i}]"
        if not isinstance(option, dict) or not {"key", "text"} <= option.keys():
            _fail(o_where, "needs a key and a text")
        _unknown(option.keys(), {"key", "text", "signs"}, o_where)
        _require_str(option["key"], f"{o_where}.key", max_length=40)
        _require_str(option["text"], f"{o_where}.text", max_length=200)
        named = option.get("signs", [])
        if not isinstance(named, list):
            _fail(f"{o_where}.signs", "must be a list of warning-sign keys")
        for key in named:
            sign = signs.get(key) if isinstance(key, str) else None
            if sign is None:
                _fail(f"{o_where}.signs", f"{key!r} is not a warning sign of this protocol")
            if not shown_in(sign, RECOVERY):
                _fail(f"{o_where}.signs", f"{key} is not a sign of the recovery, when the check-in is asked")
        if len(set(named)) != len(named):
            _fail(f"{o_where}.signs", "must not repeat a sign")
        checked.append({"key": option["key"], "text": option["text"].strip(), "signs": list(named)})
    _duplicates([option["key"] for option in checked], f"{where}.options", "answer")
    return checked


def _check_question(question, signs: dict, *, languages, where: str) -> dict:
    if not isinstance(question, dict):
        _fail(where, "must be a mapping")
    kind = question.get("kind")
    if kind not in KINDS:
        _fail(f"{where}.kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    missing = QUESTION_KEYS[kind] - {"translations"} - question.keys()
    if missing:
        _fail(where, f"missing key(s) {', '.join(sorted(missing))}")
    _unknown(question.keys(), QUESTION_KEYS[kind], where)
    _require_str(question["key"], f"{where}.key", max_length=40)
    _require_str(question["text"], f"{where}.text", max_length=300)
    checked = {"key": question["key"], "kind": kind, "text": question["text"].strip()}
    if kind == "scale":
        _require_int(question["min"], f"{where}.min")
        _require_int(question["max"], f"{where}.max")
        if question["min"] >= question["max"]:
            _fail(where, f"min ({question['min']}) must be below max ({question['max']})")
        checked.update(min=question["min"], max=question["max"])
        translations = check_translations(
            question.get("translations"), ("text",), languages=languages, where=f"{where}.translations"
        )
    else:
        checked["options"] = _check_options(question, signs, languages=languages, where=where)
        translations = check_translations(
            question.get("translations"), ("text",), languages=languages, where=f"{where}.translations",
            optional=("options",),
        )
        keys = {option["key"] for option in checked["options"]}
        for language, texts in translations.items():
            o_where = f"{where}.translations.{language}.options"
            given = texts.get("options")
            if not isinstance(given, dict) or set(given) != keys:
                _fail(o_where, "must translate every answer and no others")
            for key, text in given.items():
                _require_str(text, f"{o_where}.{key}", max_length=200)
            texts["options"] = {key: text.strip() for key, text in given.items()}
    checked["translations"] = translations
    return checked


def check_check_in(section, warning_signs: dict, *, languages, where: str) -> dict:
    """The section (from the file, or as stored) against the protocol's warning signs; {} when none."""
    if not section:
        return {}
    if not isinstance(section, dict):
        _fail(where, "must be a mapping")
    missing = {"intro", "all_clear", "questions"} - section.keys()
    if missing:
        _fail(where, f"missing key(s) {', '.join(sorted(missing))}")
    _unknown(section.keys(), {"intro", "all_clear", "questions", "translations"}, where)
    _require_str(section["intro"], f"{where}.intro", max_length=500)
    _require_str(section["all_clear"], f"{where}.all_clear", max_length=500)
    signs = {sign["key"]: sign for sign in (warning_signs or {}).get("signs", [])}
    questions = section["questions"]
    if not isinstance(questions, list) or not questions:
        _fail(f"{where}.questions", "must be a non-empty list")
    checked = [
        _check_question(question, signs, languages=languages, where=f"{where}.questions[{i}]")
        for i, question in enumerate(questions)
    ]
    _duplicates([question["key"] for question in checked], f"{where}.questions", "question")
    return {
        "intro": section["intro"].strip(),
        "all_clear": section["all_clear"].strip(),
        "translations": check_translations(
            section.get("translations"), ("intro", "all_clear"), languages=languages, where=f"{where}.translations"
        ),
        "questions": checked,
    }
