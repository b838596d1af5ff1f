"""The shipped protocol file: validation with clear errors, idempotent loading, immutable versions."""

import copy
import io
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from checklists.models import Protocol, ProtocolVersion, TaskDefinition
from checklists.protocol_files import (
    ProtocolFileError,
    content_hash,
    parse_protocol,
    phase_of,
    read_protocol_file,
    shipped_protocol_files,
)

SHIPPED = shipped_protocol_files()


def shipped_data():
    return yaml.safe_load(SHIPPED[0].read_text())


def test_the_shipped_protocol_is_valid():
    parsed = read_protocol_file(SHIPPED[0])
    assert parsed["key"] == "mis-lumbar-fusion"
    # 18 preparation steps (the guide's 4 to 8 weeks before, and the pre-operative evaluation)
    # and 12 recovery steps (its week-by-week timeline and the section on helping the fusion heal).
    assert len(parsed["tasks"]) == 30
    phases = [phase_of(task["offset_days"]) for task in parsed["tasks"]]
    assert (phases.count("preparation"), phases.count("recovery")) == (18, 12)
    for task in parsed["tasks"]:
        assert task["source_section"], f"{task['key']} names no section of the guide"
        assert "es" in task["translations"], f"{task['key']} has no Spanish text"


def test_the_protocol_carries_the_guide_preparation_span():
    parsed = read_protocol_file(SHIPPED[0])
    assert parsed["preparation_weeks"] == {"min": 4, "max": 8}  # "the 4 to 8 weeks before"
    assert "4 to 8 weeks" in parsed["summary"]
    assert "4 a 8 semanas" in parsed["translations"]["es"]["summary"]


def test_minimum_lead_times_come_from_the_guide():
    tasks = {t["key"]: t for t in read_protocol_file(SHIPPED[0])["tasks"]}
    assert tasks["stop-smoking"]["min_lead_days"] == 42  # smoke-free for (at least 4 to) 6 weeks
    assert tasks["stop-nsaids"]["min_lead_days"] == 7  # off NSAIDs at least 7 to 10 days
    assert {k for k, t in tasks.items() if t["min_lead_days"] is not None} == {"stop-smoking", "stop-nsaids"}


def test_the_bone_density_scan_and_the_medical_clearance_are_steps_of_their_own():
    tasks = {t["key"]: t for t in read_protocol_file(SHIPPED[0])["tasks"]}
    assert tasks["dexa-scan"]["applies_if"] == {"bone_density_concern": True}
    assert tasks["medical-clearance"]["applies_if"] == {"heart_or_lung_condition": True}
    for key in ("dexa-scan", "medical-clearance"):
        # Part of the pre-operative evaluation, in the same weeks as the MRI and the CT.
        assert (tasks[key]["window_start_days"], tasks[key]["offset_days"]) == (-42, -14)
        assert "pre-operative evaluation" in tasks[key]["source_section"]
    evaluation = tasks["preop-evaluation"]
    assert [item["key"] for item in evaluation["sub_items"]] == ["mri", "ct"]
    assert "DEXA" not in evaluation["instructions"] and "clear" not in evaluation["instructions"]


def test_recovery_steps_apply_to_everyone_and_remind_on_their_own_rules():
    tasks = [t for t in read_protocol_file(SHIPPED[0])["tasks"] if phase_of(t["offset_days"]) == "recovery"]
    for task in tasks:
        assert task["window_start_days"] >= 1, task["key"]
        assert task["applies_if"] == {}, f"{task['key']} must reach every fusion patient"
        assert task["reminder_rules"], task["key"]
    nsaids = next(t for t in tasks if t["key"] == "avoid-nsaids-after-surgery")
    assert (nsaids["offset_days"], nsaids["window_end_days"]) == (90, 180)  # at least 3 to 6 months


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["tasks"][0].update(category="astrology"), "tasks[0].category: 'astrology' is not one of"),
        (lambda d: d["tasks"][0].update(window={"start": -7, "end": -10}), "tasks[0].window: start (-7) is after end (-10)"),
        (lambda d: d["tasks"][0].update(offset_days=-100), "tasks[0].offset_days: -100 lies outside the window"),
        (lambda d: d["tasks"][0].update(offset_days="soon"), "tasks[0].offset_days: must be a whole number"),
        (lambda d: d["tasks"][0].update(applies_if={"vegan": True}), "tasks[0].applies_if.vegan: unknown fact"),
        (lambda d: d["tasks"][0].pop("title"), "tasks[0]: missing key(s) title"),
        (lambda d: d["tasks"][0].update(colour="red"), "tasks[0]: unknown key(s) colour"),
        (lambda d: d["tasks"][1].update(key=d["tasks"][0]["key"]), "duplicate task key(s)"),
        (lambda d: d.update(tasks=[]), "tasks: must be a non-empty list"),
        (lambda d: d["tasks"][0].update(min_lead_days=-1), "tasks[0].min_lead_days: must be a whole number of days, zero or more"),
        (lambda d: d["tasks"][0].update(min_lead_days="six weeks"), "tasks[0].min_lead_days: must be a whole number"),
        (lambda d: d["tasks"][0].update(min_lead_days=True), "tasks[0].min_lead_days: must be a whole number"),
        (lambda d: d["tasks"][0].update(min_lead_days=43), "tasks[0].min_lead_days: 43 days cannot be met"),
        (lambda d: d["tasks"][-1].update(min_lead_days=7), "tasks[29].min_lead_days: only steps due before the surgery day"),
        (lambda d: d["tasks"][-1].update(window={"start": -3, "end": 180}), "tasks[29].window: a recovery step's window must open after"),
        (lambda d: d["tasks"][-1]["reminders"].append({"key": "due-day", "anchor": "due", "offset_days": 1}), "tasks[29].reminders: keys must be unique"),
        (lambda d: d["tasks"][-1].update(reminders=[]), "tasks[29].reminders: must be a non-empty list"),
        (lambda d: d["tasks"][-1].update(phase="recovery"), "tasks[29]: unknown key(s) phase"),
        (lambda d: d.update(preparation_weeks={"min": 8, "max": 4}), "preparation_weeks: min (8) is above max (4)"),
        (lambda d: d.update(preparation_weeks={"min": 4}), "preparation_weeks: must have exactly 'min' and 'max'"),
        (lambda d: d.update(preparation_weeks={"min": 0, "max": 8}), "preparation_weeks.min: must be a whole number of weeks"),
        (lambda d: d.update(preparation_weeks={"min": 4, "max": 6}), "preparation_weeks: step prehab opens on day -56"),
        (lambda d: d["translations"]["es"].update(name="x"), "translations.es: unknown key(s) name"),
        (lambda d: d["translations"]["es"].pop("summary"), "translations.es.summary: must be non-empty text"),
    ],
)
def test_invalid_files_name_the_exact_place(mutate, message):
    data = copy.deepcopy(shipped_data())
    mutate(data)
    with pytest.raises(ProtocolFileError) as excinfo:
        parse_protocol(data, name="broken.yaml")
    assert message in str(excinfo.value)
    assert str(excinfo.value).startswith("broken.yaml")


def test_phase_follows_the_sign_of_the_due_day():
    assert [phase_of(days) for days in (-42, -1, 0, 1, 360)] == ["preparation"] * 3 + ["recovery"] * 2


def test_the_minimum_lead_time_is_stored_and_counts_in_the_fingerprint(db, tmp_path):
    call_command("load_protocols", stdout=io.StringIO())
    v1 = Protocol.objects.get(key="mis-lumbar-fusion").latest_version()
    stored = dict(v1.definitions.values_list("key", "min_lead_days"))
    assert stored["stop-smoking"] == 42 and stored["stop-nsaids"] == 7 and stored["prehab"] is None
    assert v1.definitions.get(key="avoid-nsaids-after-surgery").phase == "recovery"
    assert v1.definitions.get(key="stop-nsaids").phase == "preparation"

    data = shipped_data()
    before = content_hash(parse_protocol(copy.deepcopy(data)))
    next(t for t in data["tasks"] if t["key"] == "stop-smoking")["min_lead_days"] = 28
    assert content_hash(parse_protocol(data)) != before
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(data, allow_unicode=True))
    call_command("load_protocols", str(changed), stdout=io.StringIO())
    latest = Protocol.objects.get(key="mis-lumbar-fusion").latest_version()
    assert latest.number == 2 and latest.definitions.get(key="stop-smoking").min_lead_days == 28


def test_a_missing_translation_of_a_question_is_refused():
    data = copy.deepcopy(shipped_data())
    questions = next(t for t in data["tasks"] if t["key"] == "surgeon-questions")
    questions["translations"]["es"]["sub_items"].pop("q-volume")
    with pytest.raises(ProtocolFileError, match=r"translations\.es\.sub_items: must translate every sub-item"):
        parse_protocol(data, name="broken.yaml")


def test_loading_is_idempotent_and_versions_only_on_change(db, tmp_path):
    out = io.StringIO()
    call_command("load_protocols", stdout=out)
    call_command("load_protocols", stdout=out)
    assert "v1 (new version" in out.getvalue()
    assert "v1 (unchanged" in out.getvalue()
    protocol = Protocol.objects.get(key="mis-lumbar-fusion")
    assert protocol.versions.count() == 1
    v1 = protocol.latest_version()
    before = list(v1.definitions.values_list("key", "title", "offset_days"))

    data = shipped_data()
    data["tasks"][0]["title"] = "A reworded title"
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(data, allow_unicode=True))
    call_command("load_protocols", str(changed), stdout=out)
    assert protocol.versions.count() == 2
    assert protocol.latest_version().definitions.get(position=0).title == "A reworded title"
    # Version 1 is untouched, so checklists assigned from it keep what they were given.
    assert list(ProtocolVersion.objects.get(pk=v1.pk).definitions.values_list("key", "title", "offset_days")) == before


def test_a_broken_file_is_refused_and_nothing_is_written(db, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("key: x\nname: y\nprocedure: z\ntasks:\n  - key: a\n    category: nope\n")
    with pytest.raises(CommandError, match="broken.yaml: tasks\\[0\\]"):
        call_command("load_protocols", str(broken), stdout=io.StringIO())
    assert not Protocol.objects.exists() and not TaskDefinition.objects.exists()


def test_not_yaml_at_all(tmp_path):
    path = Path(tmp_path / "bad.yaml")
    path.write_text("key: [unclosed")
    with pytest.raises(ProtocolFileError, match="bad.yaml: not valid YAML"):
        read_protocol_file(path)
