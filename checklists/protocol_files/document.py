"""A whole protocol file: read, checked part by part, and fingerprinted for versioning."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml

from checklists.protocol_files.about import check_about, check_glossary, protocol_texts
from checklists.protocol_files.check_in import check_check_in
from checklists.protocol_files.common import (
    PREPARATION,
    ProtocolFileError,
    _duplicates,
    _fail,
    _require_str,
    _unknown,
    phase_of,
)
from checklists.protocol_files.rules import check_rules
from checklists.protocol_files.stages import check_recovery_stages, validate_recovery_stages
from checklists.protocol_files.steps import check_step_links, validate_task
from checklists.protocol_files.warning_signs import check_warning_signs

PROTOCOLS_DIR = Path(__file__).resolve().parent.parent / "protocols"

TOP_KEYS = {
    "key", "name", "procedure", "source", "preparation_weeks", "summary", "translations", "recovery_stages", "tasks",
    "rules", "warning_signs", "check_in", "about", "glossary",
}
TOP_TRANSLATION_KEYS = {"summary", "procedure"}


def validate_preparation_weeks(data: dict, tasks: list[dict], name: str) -> dict | None:
    """The protocol's overall preparation span, e.g. {min: 4, max: 8} weeks before surgery.

    Every preparation step's window must open within the longest span, so the file cannot
    ask a patient to start earlier than the protocol says preparing takes.
    """
    if "preparation_weeks" not in data:
        return None
    span, where = data["preparation_weeks"], f"{name}.preparation_weeks"
    if not isinstance(span, dict) or set(span) != {"min", "max"}:
        _fail(where, "must have exactly 'min' and 'max'")
    for bound in ("min", "max"):
        value = span[bound]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            _fail(f"{where}.{bound}", f"must be a whole number of weeks, one or more, not {value!r}")
    if span["min"] > span["max"]:
        _fail(where, f"min ({span['min']}) is above max ({span['max']})")
    earliest = -7 * span["max"]
    for task in tasks:
        if phase_of(task["offset_days"]) != PREPARATION:
            continue
        opens = task["window_start_days"] if task["window_start_days"] is not None else task["offset_days"]
        if opens < earliest:
            _fail(where, f"step {task['key']} opens on day {opens}, before the {span['max']} weeks of preparation")
    return {"min": span["min"], "max": span["max"]}


def validate_summary(data: dict, name: str) -> tuple[str, dict]:
    summary = data.get("summary", "")
    if "summary" in data:
        _require_str(summary, f"{name}.summary", max_length=300)
    translations = data.get("translations", {}) or {}
    if not isinstance(translations, dict):
        _fail(f"{name}.translations", "must be a mapping of language: texts")
    for language, texts in translations.items():
        t_where = f"{name}.translations.{language}"
        if not isinstance(texts, dict):
            _fail(t_where, "must be a mapping")
        _unknown(texts.keys(), TOP_TRANSLATION_KEYS, t_where)
        if "summary" in texts or summary:
            if not summary:
                _fail(t_where, "translates a summary the protocol does not have")
            _require_str(texts.get("summary"), f"{t_where}.summary", max_length=300)
        if "procedure" in texts:
            _require_str(texts["procedure"], f"{t_where}.procedure", max_length=200)
    return summary.strip(), translations


def parse_protocol(data, *, name: str = "protocol") -> dict:
    """Validate a whole protocol document; return it with normalised task definitions."""
    if not isinstance(data, dict):
        _fail(name, "must be a mapping at the top level")
    missing = {"key", "name", "procedure", "tasks"} - data.keys()
    if missing:
        _fail(name, f"missing key(s) {', '.join(sorted(missing))}")
    _unknown(data.keys(), TOP_KEYS, name)
    for field in ("key", "name", "procedure"):
        _require_str(data[field], f"{name}.{field}")
    if not isinstance(data["tasks"], list) or not data["tasks"]:
        _fail(f"{name}.tasks", "must be a non-empty list")
    tasks = [validate_task(task, f"{name}: tasks[{i}]") for i, task in enumerate(data["tasks"])]
    _duplicates([t["key"] for t in tasks], f"{name}.tasks", "task")
    check_step_links(tasks, where=f"{name}: tasks")
    preparation_weeks = validate_preparation_weeks(data, tasks, name)
    summary, translations = validate_summary(data, name)
    languages = set(translations)
    rules = check_rules(data.get("rules"), languages=languages, where=f"{name}.rules")
    recovery_stages = validate_recovery_stages(data, tasks, translations, name, rules=rules)
    warning_signs = check_warning_signs(data.get("warning_signs"), languages=languages, where=f"{name}.warning_signs")
    check_in = check_check_in(data.get("check_in"), warning_signs, languages=languages, where=f"{name}.check_in")
    about, glossary = _check_about_and_glossary(data, tasks, rules, recovery_stages, languages=languages, where=name)
    # Stored on the version (ProtocolVersion) and part of its fingerprint, like the steps.
    return {
        "key": data["key"],
        "name": data["name"],
        "procedure": data["procedure"],
        "source": data.get("source", ""),
        "preparation_weeks": preparation_weeks,
        "summary": summary,
        "translations": translations,
        "recovery_stages": recovery_stages,
        "rules": rules,
        "warning_signs": warning_signs,
        "check_in": check_in,
        "about": about,
        "glossary": glossary,
        "tasks": tasks,
    }


def _check_about_and_glossary(data: dict, tasks, rules, stages, *, languages, where: str) -> tuple[dict, list]:
    """The about pages, then the glossary, each of whose entries must be met in the texts they explain."""
    about = check_about(data.get("about"), languages=languages, stage_keys=[s["key"] for s in stages],
                        where=f"{where}.about")
    texts = {language: protocol_texts(tasks, rules, about, language) for language in ["", *sorted(languages)]}
    glossary = check_glossary(data.get("glossary"), languages=languages, texts_by_language=texts,
                              where=f"{where}.glossary")
    return about, glossary


def check_stored_version(fields: dict, tasks: list[dict], *, where: str = "version") -> None:
    """Check a version's stored sections against its steps, as a file's would be (a draft being published).

    `fields` holds the version-wide fields (VERSION_FIELDS), `tasks` its steps as
    TaskDefinition field values. The same checks as a file's: a clinical lead who edited a
    draft in the admin cannot publish stages, rules, signs or check-in questions that a file
    with the same content would have been refused for.
    """
    languages = set(fields.get("translations") or {})
    check_step_links(tasks, where=f"{where}: tasks")
    rules = check_rules(fields.get("rules"), languages=languages, where=f"{where}.rules")
    check_recovery_stages(
        fields.get("recovery_stages") or [], tasks, languages=languages, where=f"{where}.recovery_stages", rules=rules
    )
    signs = check_warning_signs(fields.get("warning_signs"), languages=languages, where=f"{where}.warning_signs")
    check_check_in(fields.get("check_in"), signs, languages=languages, where=f"{where}.check_in")
    _check_about_and_glossary(fields, tasks, rules, fields.get("recovery_stages") or [], languages=languages,
                              where=where)


# The version-wide fields a version stores besides its steps, with their empty values.
VERSION_FIELDS = {
    "preparation_weeks": {}, "summary": "", "translations": {}, "recovery_stages": [],
    "rules": [], "warning_signs": {}, "check_in": {}, "about": {}, "glossary": [],
}


def content_hash(parsed: dict) -> str:
    """A stable fingerprint of the content: a new version is made only when it changes.

    Every stored field counts: each step's (min_lead_days included) and the version's own
    (preparation span, summary, translations, recovery stages, rules in force, warning signs,
    check-in questions, about pages, glossary).
    """
    content = {k: parsed[k] for k in ("name", "procedure", "tasks")}
    content.update({k: parsed.get(k) or empty for k, empty in VERSION_FIELDS.items()})
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def read_protocol_file(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProtocolFileError(f"{path.name}: not valid YAML: {exc}") from exc
    return parse_protocol(data, name=path.name)


def shipped_protocol_files() -> list[Path]:
    return sorted(PROTOCOLS_DIR.glob("*.yaml"))


