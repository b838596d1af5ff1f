"""Reading and validating the protocol data files the service ships (`checklists/protocols/*.yaml`).

Validation is strict and names the exact place of each problem, e.g.
`mis_lumbar_fusion.yaml: tasks[2].window: start (-7) is after end (-10)`, so a clinical
lead editing a file learns what to fix before anything reaches a patient.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import yaml

from checklists.models import Category
from checklists.schedule import FACT_NAMES

PROTOCOLS_DIR = Path(__file__).resolve().parent / "protocols"

TOP_KEYS = {
    "key", "name", "procedure", "source", "preparation_weeks", "summary", "translations", "recovery_stages", "tasks",
}
TOP_TRANSLATION_KEYS = {"summary", "procedure"}
TASK_REQUIRED = {"key", "category", "title", "instructions", "offset_days"}
TASK_OPTIONAL = {
    "why", "source_section", "window", "applies_if", "sub_items", "targets", "reminders", "translations",
    "min_lead_days", "lead_reason", "critical", "escalate_after_days",
}
TRANSLATION_KEYS = {"title", "instructions", "why", "sub_items", "targets", "lead_reason"}
STAGE_KEYS = {"key", "days", "label", "steps", "translations"}
TARGET_KINDS = {"per_kg_range": {"key", "kind", "min", "max", "unit", "label"}, "fixed": {"key", "kind", "value", "unit", "label"}}
REMINDER_ANCHORS = {"window_start", "due"}

# When a definition names no reminder rules: when its window opens, the day before it is due, and on the day.
DEFAULT_REMINDER_RULES = [
    {"key": "window-opens", "anchor": "window_start", "offset_days": 0},
    {"key": "day-before", "anchor": "due", "offset_days": -1},
    {"key": "due-day", "anchor": "due", "offset_days": 0},
]


# A step's phase is not stored: it follows from the sign of its due day. Steps due on or
# before the surgery day prepare for it; steps due after it belong to the recovery.
PREPARATION, RECOVERY = "preparation", "recovery"


def phase_of(offset_days: int) -> str:
    return RECOVERY if offset_days > 0 else PREPARATION


class ProtocolFileError(ValueError):
    pass


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


def validate_task(task, where: str) -> dict:
    """Check one task entry and return it normalised to the TaskDefinition fields."""
    if not isinstance(task, dict):
        _fail(where, "must be a mapping")
    missing = TASK_REQUIRED - task.keys()
    if missing:
        _fail(where, f"missing key(s) {', '.join(sorted(missing))}")
    _unknown(task.keys(), TASK_REQUIRED | TASK_OPTIONAL, where)
    _require_str(task["key"], f"{where}.key", max_length=80)
    if task["category"] not in Category.values:
        _fail(f"{where}.category", f"{task['category']!r} is not one of {', '.join(Category.values)}")
    _require_str(task["title"], f"{where}.title", max_length=200)
    _require_str(task["instructions"], f"{where}.instructions")
    _require_int(task["offset_days"], f"{where}.offset_days")

    window_start = window_end = None
    if "window" in task:
        window = task["window"]
        if not isinstance(window, dict) or set(window) != {"start", "end"}:
            _fail(f"{where}.window", "must have exactly 'start' and 'end'")
        _require_int(window["start"], f"{where}.window.start")
        _require_int(window["end"], f"{where}.window.end")
        window_start, window_end = window["start"], window["end"]
        if window_start > window_end:
            _fail(f"{where}.window", f"start ({window_start}) is after end ({window_end})")
        if not window_start <= task["offset_days"] <= window_end:
            _fail(f"{where}.offset_days", f"{task['offset_days']} lies outside the window {window_start}..{window_end}")
        if phase_of(task["offset_days"]) == RECOVERY and window_start < 1:
            _fail(f"{where}.window", f"a recovery step's window must open after the surgery day, not on day {window_start}")

    min_lead_days = task.get("min_lead_days")
    if "min_lead_days" in task:
        # How long before surgery the step must be done for its effect to be there on the day
        # (six weeks smoke-free, seven days off NSAIDs). Only preparation steps have one.
        m_where = f"{where}.min_lead_days"
        if not isinstance(min_lead_days, int) or isinstance(min_lead_days, bool) or min_lead_days < 0:
            _fail(m_where, f"must be a whole number of days, zero or more, not {min_lead_days!r}")
        if task["offset_days"] >= 0:
            _fail(m_where, "only steps due before the surgery day can have a minimum lead time")
        earliest = -(window_start if window_start is not None else task["offset_days"])
        if min_lead_days > earliest:
            _fail(m_where, f"{min_lead_days} days cannot be met: the step starts only {earliest} days before surgery")
        # What the patient is told when the lead time can no longer be met: the step's own reason.
        if "lead_reason" not in task:
            _fail(f"{where}.lead_reason", "a step with a min_lead_days needs the reason for it, in the patient's words")
        _require_str(task["lead_reason"], f"{where}.lead_reason")
    elif "lead_reason" in task:
        _fail(f"{where}.lead_reason", "only a step with a min_lead_days has a reason for it")

    critical = task.get("critical", False)
    if not isinstance(critical, bool):
        _fail(f"{where}.critical", f"must be true or false, not {critical!r}")
    escalate_after_days = task.get("escalate_after_days")
    if "escalate_after_days" in task:
        # Days a critical step may stay overdue before the care team is alerted.
        e_where = f"{where}.escalate_after_days"
        if not critical:
            _fail(e_where, "only a step marked critical: true can be escalated")
        if not isinstance(escalate_after_days, int) or isinstance(escalate_after_days, bool) or escalate_after_days < 0:
            _fail(e_where, f"must be a whole number of days, zero or more, not {escalate_after_days!r}")

    applies_if = task.get("applies_if", {}) or {}
    if not isinstance(applies_if, dict):
        _fail(f"{where}.applies_if", "must be a mapping of fact: true/false")
    for fact, wanted in applies_if.items():
        if fact not in FACT_NAMES:
            _fail(f"{where}.applies_if.{fact}", f"unknown fact; known facts are {', '.join(FACT_NAMES)}")
        if not isinstance(wanted, bool):
            _fail(f"{where}.applies_if.{fact}", "must be true or false")

    sub_items = task.get("sub_items", []) or []
    sub_keys = []
    for i, item in enumerate(sub_items):
        item_where = f"{where}.sub_items[{i}]"
        if not isinstance(item, dict) or set(item) != {"key", "text"}:
            _fail(item_where, "must have exactly 'key' and 'text'")
        _require_str(item["key"], f"{item_where}.key")
        _require_str(item["text"], f"{item_where}.text")
        sub_keys.append(item["key"])
    if len(set(sub_keys)) != len(sub_keys):
        _fail(f"{where}.sub_items", "keys must be unique")

    targets = task.get("targets", []) or []
    target_keys = []
    for i, target in enumerate(targets):
        t_where = f"{where}.targets[{i}]"
        if not isinstance(target, dict) or target.get("kind") not in TARGET_KINDS:
            _fail(t_where, f"kind must be one of {', '.join(TARGET_KINDS)}")
        expected = TARGET_KINDS[target["kind"]]
        if set(target) != expected:
            _fail(t_where, f"needs exactly the keys {', '.join(sorted(expected))}")
        numbers = ("min", "max") if target["kind"] == "per_kg_range" else ("value",)
        for name in numbers:
            if not isinstance(target[name], (int, float)) or isinstance(target[name], bool) or target[name] <= 0:
                _fail(f"{t_where}.{name}", "must be a positive number")
        if target["kind"] == "per_kg_range" and target["min"] > target["max"]:
            _fail(t_where, "min is above max")
        target_keys.append(target["key"])

    reminders = task.get("reminders", DEFAULT_REMINDER_RULES)
    if not isinstance(reminders, list) or not reminders:
        _fail(f"{where}.reminders", "must be a non-empty list")
    for i, rule in enumerate(reminders):
        r_where = f"{where}.reminders[{i}]"
        if not isinstance(rule, dict) or set(rule) != {"key", "anchor", "offset_days"}:
            _fail(r_where, "needs exactly the keys anchor, key, offset_days")
        _require_str(rule["key"], f"{r_where}.key", max_length=40)
        if rule["anchor"] not in REMINDER_ANCHORS:
            _fail(f"{r_where}.anchor", f"must be one of {', '.join(sorted(REMINDER_ANCHORS))}")
        _require_int(rule["offset_days"], f"{r_where}.offset_days")
    rule_keys = [rule["key"] for rule in reminders]
    if len(set(rule_keys)) != len(rule_keys):
        _fail(f"{where}.reminders", "keys must be unique")

    translations = task.get("translations", {}) or {}
    for language, texts in translations.items():
        t_where = f"{where}.translations.{language}"
        if not isinstance(texts, dict):
            _fail(t_where, "must be a mapping")
        _unknown(texts.keys(), TRANSLATION_KEYS, t_where)
        for name in ("title", "instructions"):
            _require_str(texts.get(name), f"{t_where}.{name}")
        if "lead_reason" in task:
            _require_str(texts.get("lead_reason"), f"{t_where}.lead_reason")
        elif "lead_reason" in texts:
            _fail(f"{t_where}.lead_reason", "translates a reason the step does not have")
        if sub_keys and set(texts.get("sub_items", {})) != set(sub_keys):
            _fail(f"{t_where}.sub_items", "must translate every sub-item key and no others")
        if target_keys and set(texts.get("targets", {})) != set(target_keys):
            _fail(f"{t_where}.targets", "must translate every target label and no others")

    return {
        "key": task["key"],
        "category": task["category"],
        "title": task["title"].strip(),
        "instructions": task["instructions"].strip(),
        "why": (task.get("why") or "").strip(),
        "source_section": task.get("source_section", ""),
        "offset_days": task["offset_days"],
        "window_start_days": window_start,
        "window_end_days": window_end,
        "applies_if": applies_if,
        "sub_items": sub_items,
        "targets": targets,
        "reminder_rules": reminders,
        "translations": translations,
        "min_lead_days": min_lead_days,
        "critical": critical,
        "escalate_after_days": escalate_after_days,
        "lead_reason": (task.get("lead_reason") or "").strip(),
    }


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


def _stage_from_file(stage, where: str) -> dict:
    """One entry of the file's recovery_stages, in the form it is stored in (ProtocolVersion.recovery_stages)."""
    if not isinstance(stage, dict):
        _fail(where, "must be a mapping")
    missing = {"key", "days", "label", "steps"} - stage.keys()
    if missing:
        _fail(where, f"missing key(s) {', '.join(sorted(missing))}")
    _unknown(stage.keys(), STAGE_KEYS, where)
    days = stage["days"]
    if not isinstance(days, dict) or set(days) != {"start", "end"}:
        _fail(f"{where}.days", "must have exactly 'start' and 'end'")
    translations = stage.get("translations", {}) or {}
    if not isinstance(translations, dict):
        _fail(f"{where}.translations", "must be a mapping of language: texts")
    return {
        "key": stage["key"],
        "start_day": days["start"],
        "end_day": days["end"],
        "label": stage["label"],
        "steps": stage["steps"],
        "translations": translations,
    }


def check_recovery_stages(stages, tasks: list[dict], *, languages, where: str) -> list[dict]:
    """Check stored-form recovery stages against the protocol's steps; return them.

    The stages cut the recovery into consecutive day ranges (days after surgery) from day 1 to
    the last recovery step's due day, with no gap and no overlap, so that every day has one
    stage. Each stage names the recovery steps it is about (`steps`), and each of those steps'
    windows must reach into the stage's days: the stages follow the steps, not the other way
    round. Every recovery step belongs to at least one stage, and every label is translated
    into each language the protocol is translated into.
    """
    if not isinstance(stages, list):
        _fail(where, "must be a list")
    recovery = {t["key"]: t for t in tasks if phase_of(t["offset_days"]) == RECOVERY}
    if not stages:
        if recovery:
            _fail(where, "a protocol with recovery steps needs its recovery stages")
        return []
    keys, covered, expected_start = [], set(), 1
    for i, stage in enumerate(stages):
        s_where = f"{where}[{i}]"
        _require_str(stage.get("key"), f"{s_where}.key", max_length=40)
        keys.append(stage["key"])
        _require_str(stage.get("label"), f"{s_where}.label", max_length=120)
        start, end = stage.get("start_day"), stage.get("end_day")
        _require_int(start, f"{s_where}.days.start")
        _require_int(end, f"{s_where}.days.end")
        if start > end:
            _fail(f"{s_where}.days", f"start ({start}) is after end ({end})")
        if start != expected_start:
            if i == 0:
                _fail(f"{s_where}.days.start", f"{start}: the first stage must start on day 1")
            _fail(f"{s_where}.days.start", f"{start}: must start on day {expected_start}, the day after the one before")
        expected_start = end + 1
        steps = stage.get("steps")
        if not isinstance(steps, list) or not steps:
            _fail(f"{s_where}.steps", "must name at least one recovery step")
        for key in steps:
            if not isinstance(key, str) or key not in recovery:
                _fail(f"{s_where}.steps", f"{key!r} is not a recovery step of this protocol")
            task = recovery[key]
            low = task["window_start_days"] if task["window_start_days"] is not None else task["offset_days"]
            high = task["window_end_days"] if task["window_end_days"] is not None else task["offset_days"]
            if high < start or low > end:
                _fail(
                    f"{s_where}.steps", f"{key} (days {low} to {high}) lies outside the stage's days {start} to {end}"
                )
            covered.add(key)
        translations = stage.get("translations") or {}
        _unknown(translations.keys(), languages, f"{s_where}.translations")
        for language in sorted(languages):
            texts = translations.get(language)
            t_where = f"{s_where}.translations.{language}"
            if not isinstance(texts, dict):
                _fail(t_where, "is missing: every label is translated into the protocol's languages")
            _unknown(texts.keys(), {"label"}, t_where)
            _require_str(texts.get("label"), f"{t_where}.label", max_length=120)
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        _fail(where, f"duplicate stage key(s) {', '.join(duplicates)}")
    last_due = max((t["offset_days"] for t in recovery.values()), default=0)
    if stages[-1]["end_day"] < last_due:
        ends = stages[-1]["end_day"]
        _fail(where, f"the last stage ends on day {ends}, before the last recovery step is due (day {last_due})")
    missing = sorted(set(recovery) - covered)
    if missing:
        _fail(where, f"recovery step(s) in no stage: {', '.join(missing)}")
    return stages


def validate_recovery_stages(data: dict, tasks: list[dict], translations: dict, name: str) -> list[dict]:
    where = f"{name}.recovery_stages"
    raw = data.get("recovery_stages", []) or []
    if not isinstance(raw, list):
        _fail(where, "must be a list")
    stages = [_stage_from_file(stage, f"{where}[{i}]") for i, stage in enumerate(raw)]
    return check_recovery_stages(stages, tasks, languages=set(translations), where=where)


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
    keys = [t["key"] for t in tasks]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        _fail(f"{name}.tasks", f"duplicate task key(s) {', '.join(duplicates)}")
    preparation_weeks = validate_preparation_weeks(data, tasks, name)
    summary, translations = validate_summary(data, name)
    recovery_stages = validate_recovery_stages(data, tasks, translations, name)
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
        "tasks": tasks,
    }


# The version-wide fields a version stores besides its steps, with their empty values.
VERSION_FIELDS = {"preparation_weeks": {}, "summary": "", "translations": {}, "recovery_stages": []}


def content_hash(parsed: dict) -> str:
    """A stable fingerprint of the content: a new version is made only when it changes.

    Every stored field counts: each step's (min_lead_days included) and the version's own
    (preparation span, summary, translations, recovery stages).
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


# Guide fingerprints: how the tests prove that no protocol text copies the guide's sentences
# without the guide's text being kept in the repository. A text's fingerprints are the
# truncated sha256 of each run of FINGERPRINT_WORDS consecutive words, after normalising.
FINGERPRINT_WORDS = 12
_APOSTROPHES = re.compile(r"['\u2019\u2018\u02bc]")
_WORD = re.compile(r"[^\W_]+")


def text_words(text: str) -> list[str]:
    """Lower-case words (runs of letters or digits), apostrophes dropped: "don't" is "dont"."""
    return _WORD.findall(_APOSTROPHES.sub("", text.lower()))


def fingerprints(text: str, size: int = FINGERPRINT_WORDS) -> set[str]:
    words = text_words(text)
    return {
        hashlib.sha256(" ".join(words[i : i + size]).encode()).hexdigest()[:16]
        for i in range(len(words) - size + 1)
    }
