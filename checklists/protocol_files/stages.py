"""The recovery in stages: consecutive day ranges after surgery, each about some recovery steps (and rules)."""

from __future__ import annotations

from checklists.protocol_files.common import RECOVERY, _fail, _require_int, _require_str, _unknown, phase_of

STAGE_KEYS = {"key", "days", "label", "steps", "rules", "translations"}


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
        "rules": stage.get("rules", []),
        "translations": translations,
    }


def check_recovery_stages(stages, tasks: list[dict], *, languages, where: str, rules=()) -> list[dict]:
    """Check stored-form recovery stages against the protocol's steps; return them.

    The stages cut the recovery into consecutive day ranges (days after surgery) from day 1 to
    the last recovery step's due day, with no gap and no overlap, so that every day has one
    stage. Each stage names the recovery steps it is about (`steps`), and each of those steps'
    windows must reach into the stage's days: the stages follow the steps, not the other way
    round. Every recovery step belongs to at least one stage, and every label is translated
    into each language the protocol is translated into. A stage may also name the rules in
    force it is about (`rules`, from the protocol's `rules`), each in force on one of its days.
    """
    rules_by_key = {rule["key"]: rule for rule in rules}
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
        stage_rules = stage.get("rules", [])
        if not isinstance(stage_rules, list):
            _fail(f"{s_where}.rules", "must be a list of rule keys")
        for key in stage_rules:
            rule = rules_by_key.get(key) if isinstance(key, str) else None
            if rule is None:
                _fail(f"{s_where}.rules", f"{key!r} is not a rule of this protocol")
            if rule["start"] > end or (rule["end"] is not None and rule["end"] < start):
                span = f"from day {rule['start']}"
                if rule["end"] is not None:
                    span = f"days {rule['start']} to {rule['end']}"
                _fail(f"{s_where}.rules", f"{key} ({span}) is not in force on the stage's days {start} to {end}")
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


def validate_recovery_stages(data: dict, tasks: list[dict], translations: dict, name: str, rules=()) -> list[dict]:
    where = f"{name}.recovery_stages"
    raw = data.get("recovery_stages", []) or []
    if not isinstance(raw, list):
        _fail(where, "must be a list")
    stages = [_stage_from_file(stage, f"{where}[{i}]") for i, stage in enumerate(raw)]
    return check_recovery_stages(stages, tasks, languages=set(translations), where=where, rules=rules)


