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
    # 23 preparation steps (the guide's 4 to 8 weeks before, the pre-operative evaluation, and
    # five for the night before and the day itself) and 11 recovery steps (its week-by-week
    # timeline, the section on helping the fusion heal, and the blood thinner's restart). What
    # lasts (no BLT, no NSAIDs after surgery) is a rule in force, not a step.
    assert len(parsed["tasks"]) == 34
    phases = [phase_of(task["offset_days"]) for task in parsed["tasks"]]
    assert (phases.count("preparation"), phases.count("recovery")) == (23, 11)
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
        assert task["reminder_rules"], task["key"]
        if task["key"] == "restart-blood-thinner":  # only for those who stopped one before surgery
            assert task["applies_if"] == {"on_blood_thinners": True}
        else:
            assert task["applies_if"] == {}, f"{task['key']} must reach every fusion patient"


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
        (lambda d: d["tasks"][-1].update(min_lead_days=7), "tasks[33].min_lead_days: only steps due before the surgery day"),
        (lambda d: d["tasks"][-1].update(window={"start": -3, "end": 360}), "tasks[33].window: a recovery step's window must open after"),
        (lambda d: d["tasks"][-1]["reminders"].append({"key": "due-day", "anchor": "due", "offset_days": 1}), "tasks[33].reminders: keys must be unique"),
        (lambda d: d["tasks"][-1].update(reminders=[]), "tasks[33].reminders: must be a non-empty list"),
        (lambda d: d["tasks"][-1].update(phase="recovery"), "tasks[33]: unknown key(s) phase"),
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
    assert v1.definitions.get(key="first-walk").phase == "recovery"
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


# --- Recovery stages, the procedure's translation, lead reasons -------------------------------


def task_named(data, key):
    return next(t for t in data["tasks"] if t["key"] == key)


def stage_named(data, key):
    return next(s for s in data["recovery_stages"] if s["key"] == key)


def test_the_recovery_is_cut_into_the_guide_stages():
    parsed = read_protocol_file(SHIPPED[0])
    stages = parsed["recovery_stages"]
    assert [(s["key"], s["start_day"], s["end_day"]) for s in stages] == [
        ("first-days", 1, 2),  # up and walking at 1 to 2 days
        ("weeks-1-2", 3, 14),
        ("weeks-3-6", 15, 42),
        ("months-2-3", 43, 90),
        ("months-3-6", 91, 180),
        ("months-6-12", 181, 360),
    ]
    assert all(s["translations"]["es"]["label"] for s in stages)
    assert parsed["translations"]["es"]["procedure"] == "Fusión lumbar mínimamente invasiva"


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: stage_named(d, "first-days")["days"].update(start=0), "recovery_stages[0].days.start: 0: the first stage must start on day 1"),
        (lambda d: stage_named(d, "weeks-1-2")["days"].update(start=4), "recovery_stages[1].days.start: 4: must start on day 3"),
        (lambda d: stage_named(d, "weeks-1-2")["days"].update(start=2), "recovery_stages[1].days.start: 2: must start on day 3"),
        (lambda d: stage_named(d, "weeks-1-2")["days"].update(end=1), "recovery_stages[1].days: start (3) is after end (1)"),
        (lambda d: stage_named(d, "months-6-12")["days"].update(end=300), "the last stage ends on day 300, before the last recovery step is due (day 360)"),
        (lambda d: stage_named(d, "months-2-3")["steps"].append("fusion-ct"), "recovery_stages[3].steps: fusion-ct (days 151 to 360) lies outside the stage's days 43 to 90"),
        (lambda d: stage_named(d, "months-2-3")["steps"].append("stop-smoking"), "recovery_stages[3].steps: 'stop-smoking' is not a recovery step"),
        (lambda d: stage_named(d, "months-2-3").update(steps=[]), "recovery_stages[3].steps: must name at least one recovery step"),
        (lambda d: stage_named(d, "months-6-12")["steps"].remove("nutrition-through-fusion"), "recovery step(s) in no stage: nutrition-through-fusion"),
        (lambda d: stage_named(d, "weeks-1-2").update(key="first-days"), "duplicate stage key(s) first-days"),
        (lambda d: stage_named(d, "weeks-1-2").pop("translations"), "recovery_stages[1].translations.es: is missing"),
        (lambda d: stage_named(d, "weeks-1-2").update(colour="red"), "recovery_stages[1]: unknown key(s) colour"),
        (lambda d: d.pop("recovery_stages"), "recovery_stages: a protocol with recovery steps needs its recovery stages"),
        (lambda d: d["translations"]["es"].update(procedure=""), "translations.es.procedure: must be non-empty text"),
        (lambda d: task_named(d, "stop-smoking").pop("lead_reason"), "lead_reason: a step with a min_lead_days needs the reason"),
        (lambda d: task_named(d, "prehab").update(lead_reason="Because."), "lead_reason: only a step with a min_lead_days has a reason"),
        (lambda d: task_named(d, "stop-nsaids")["translations"]["es"].pop("lead_reason"), "translations.es.lead_reason: must be non-empty text"),
    ],
)
def test_stages_and_reasons_that_do_not_fit_are_refused(mutate, message):
    data = copy.deepcopy(shipped_data())
    mutate(data)
    with pytest.raises(ProtocolFileError) as excinfo:
        parse_protocol(data, name="broken.yaml")
    assert message in str(excinfo.value)


def test_the_version_keeps_its_stages_and_translations_and_they_count_in_the_fingerprint(db, tmp_path):
    call_command("load_protocols", stdout=io.StringIO())
    v1 = Protocol.objects.get(key="mis-lumbar-fusion").latest_version()
    assert v1.preparation_weeks == {"min": 4, "max": 8}
    assert v1.localized_summary("es").startswith("La preparación")
    assert v1.localized_procedure("es") == "Fusión lumbar mínimamente invasiva"
    assert v1.localized_procedure("en") == "Minimally invasive lumbar fusion"
    assert [s["key"] for s in v1.recovery_stages][0] == "first-days"
    assert v1.definitions.get(key="stop-smoking").localized("es")["lead_reason"].startswith("Los equipos")

    data = shipped_data()
    stage_named(data, "weeks-1-2")["label"] = "Weeks 1–2: wound checks"
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(data, allow_unicode=True))
    call_command("load_protocols", str(changed), stdout=io.StringIO())
    latest = Protocol.objects.get(key="mis-lumbar-fusion").latest_version()
    assert latest.number == 2 and latest.recovery_stages[1]["label"] == "Weeks 1–2: wound checks"


def test_a_booked_procedure_is_translated_and_its_level_kept(db):
    call_command("load_protocols", stdout=io.StringIO())
    version = Protocol.objects.get(key="mis-lumbar-fusion").latest_version()
    assert version.procedure_for("Minimally invasive lumbar fusion (L4-L5)", "es") == (
        "Fusión lumbar mínimamente invasiva (L4-L5)"
    )
    assert version.procedure_for("minimally invasive lumbar fusion", "es") == "Fusión lumbar mínimamente invasiva"
    assert version.procedure_for("Minimally invasive lumbar fusion (L4-L5)", "en") == (
        "Minimally invasive lumbar fusion (L4-L5)"
    )
    # Something else typed by the coordinator is shown as typed.
    assert version.procedure_for("Revision surgery", "es") == "Revision surgery"


# --- Stops, linked answers, the night before and the day of surgery ----------------------------


def test_the_stops_that_cannot_wait():
    tasks = {t["key"]: t for t in read_protocol_file(SHIPPED[0])["tasks"]}
    assert {k for k, t in tasks.items() if t["stop"]} == {"stop-smoking", "stop-nsaids"}
    assert tasks["stop-nsaids"]["stop_today"].startswith("Stop ibuprofen, naproxen and aspirin")
    assert tasks["stop-smoking"]["translations"]["es"]["stop_today"].startswith("Deje hoy de fumar")
    assert all(t["stop_today"] == "" for k, t in tasks.items() if not t["stop"])


def test_the_night_before_and_the_day_of_surgery():
    tasks = {t["key"]: t for t in read_protocol_file(SHIPPED[0])["tasks"]}
    days = {k: t["offset_days"] for k, t in tasks.items() if t["offset_days"] in (-1, 0)}
    assert days == {
        "eating-drinking-cutoff": -1, "pack-hospital-bag": -1, "ride-home-and-adult": -1,
        "skin-wash": 0, "morning-medicines": 0,
    }
    for key in days:
        assert tasks[key]["source_section"] == "general pre-operative practice", key
        assert phase_of(tasks[key]["offset_days"]) == "preparation"
    assert "anesthesia team" in tasks["eating-drinking-cutoff"]["instructions"]
    assert "diabetes medicines" in tasks["morning-medicines"]["instructions"]
    assert "blood" in tasks["morning-medicines"]["instructions"] and "plan" in tasks["morning-medicines"]["instructions"]
    assert "24 hours" in tasks["ride-home-and-adult"]["instructions"]
    assert [i["key"] for i in tasks["ride-home-and-adult"]["sub_items"]] == ["driver", "adult"]
    assert len(tasks["pack-hospital-bag"]["sub_items"]) == 6


def test_the_blood_thinner_restart_reads_the_plan():
    tasks = {t["key"]: t for t in read_protocol_file(SHIPPED[0])["tasks"]}
    plan, restart = tasks["blood-thinner-plan"], tasks["restart-blood-thinner"]
    assert [i["key"] for i in plan["sub_items"]] == ["last-dose", "restart-day", "restart-how", "who-decided"]
    assert restart["shows_answers_of"] == {"step": "blood-thinner-plan", "keys": ["restart-day", "restart-how"]}
    assert (restart["window_start_days"], restart["offset_days"]) == (1, 3)
    assert restart["applies_if"] == plan["applies_if"] == {"on_blood_thinners": True}
    assert [i["key"] for i in restart["sub_items"]] == ["restarted-on"]


def test_the_fixes_to_the_steps():
    tasks = {t["key"]: t for t in read_protocol_file(SHIPPED[0])["tasks"]}
    assert tasks["low-impact-exercise"]["window_start_days"] == 91  # with its stage, months 3 to 6
    taper = tasks["taper-opioids"]["instructions"]
    assert "acetaminophen (also called paracetamol)" in taper and "NSAIDs such as ibuprofen" in taper
    assert "are not among them" in taper
    assert "If you have not already" in tasks["surgeon-questions"]["instructions"]
    assert "If you have not already had them" in tasks["preop-evaluation"]["instructions"]
    assert "Si todavía no" in tasks["preop-evaluation"]["translations"]["es"]["instructions"]


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: task_named(d, "stop-nsaids").pop("stop_today"), "stop_today: a stop needs the words"),
        (lambda d: task_named(d, "stop-nsaids").update(stop="yes"), "stop: must be true or false"),
        (lambda d: task_named(d, "prehab").update(stop_today="Stop today."), "stop_today: only a step marked stop: true"),
        (lambda d: task_named(d, "first-walk").update(stop=True, stop_today="Stop."), "stop: only a step before the surgery"),
        (lambda d: task_named(d, "stop-nsaids")["translations"]["es"].pop("stop_today"), "translations.es.stop_today: must be non-empty"),
        (lambda d: task_named(d, "prehab")["translations"]["es"].update(stop_today="x"), "translations.es.stop_today: translates a stop_today"),
        (lambda d: task_named(d, "restart-blood-thinner")["shows_answers_of"].update(step="no-such-step"),
         "shows_answers_of.step: 'no-such-step' is not another step"),
        (lambda d: task_named(d, "restart-blood-thinner")["shows_answers_of"].update(step="restart-blood-thinner"),
         "shows_answers_of.step: 'restart-blood-thinner' is not another step"),
        (lambda d: task_named(d, "restart-blood-thinner")["shows_answers_of"].update(step="fusion-ct", keys=["date"]),
         "shows_answers_of.step: fusion-ct is due on day 360, not before this step"),
        (lambda d: task_named(d, "restart-blood-thinner")["shows_answers_of"].update(keys=["restart"]),
         "shows_answers_of.keys: restart: not a sub-item of blood-thinner-plan"),
        (lambda d: task_named(d, "restart-blood-thinner")["shows_answers_of"].update(keys=[]), "shows_answers_of.keys: must be a non-empty list"),
        (lambda d: task_named(d, "restart-blood-thinner")["shows_answers_of"].pop("keys"), "shows_answers_of: must have exactly 'step' and 'keys'"),
        (lambda d: task_named(d, "restart-blood-thinner").pop("applies_if"), "applies_if: must include on_blood_thinners: true, as blood-thinner-plan does"),
        (lambda d: task_named(d, "prehab").update(source_section="x" * 201), "source_section: must be at most 200 characters"),
    ],
)
def test_stops_and_linked_answers_that_do_not_fit_are_refused(mutate, message):
    data = copy.deepcopy(shipped_data())
    mutate(data)
    with pytest.raises(ProtocolFileError) as excinfo:
        parse_protocol(data, name="broken.yaml")
    assert message in str(excinfo.value)


def test_the_safety_sections_are_stored_and_count_in_the_fingerprint(db, tmp_path):
    call_command("load_protocols", stdout=io.StringIO())
    v1 = Protocol.objects.get(key="mis-lumbar-fusion").latest_version()
    parsed = read_protocol_file(SHIPPED[0])
    assert (v1.rules, v1.warning_signs, v1.check_in) == (parsed["rules"], parsed["warning_signs"], parsed["check_in"])
    nsaids = v1.definitions.get(key="stop-nsaids")
    assert nsaids.stop is True and nsaids.localized("es")["stop_today"].startswith("Deje hoy")
    assert v1.definitions.get(key="restart-blood-thinner").shows_answers_of["step"] == "blood-thinner-plan"
    question = v1.check_in["questions"][2]
    assert v1.localized_question(question, "es") == {
        "text": "¿Se levantó y caminó hoy?", "options": {"yes": "Sí", "a-little": "Un poco", "no": "No"},
    }
    assert v1.localized_question(question, "")["options"]["a-little"] == "A little"

    data = shipped_data()
    before = content_hash(parse_protocol(copy.deepcopy(data)))
    for change in (
        lambda d: d["rules"][0].update(title="Reworded"),
        lambda d: d["warning_signs"]["signs"][0].update(urgency="call_today"),
        lambda d: d["check_in"].update(all_clear="Reworded."),
        lambda d: task_named(d, "stop-nsaids").update(stop_today="Reworded."),
    ):
        changed = copy.deepcopy(data)
        change(changed)
        assert content_hash(parse_protocol(changed)) != before
    data["warning_signs"]["signs"][0]["urgency"] = "call_today"
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    call_command("load_protocols", str(path), stdout=io.StringIO())
    latest = Protocol.objects.get(key="mis-lumbar-fusion").latest_version()
    assert latest.number == 2 and latest.warning_signs["signs"][0]["urgency"] == "call_today"
    assert ProtocolVersion.objects.get(pk=v1.pk).warning_signs["signs"][0]["urgency"] == "emergency"


def test_a_draft_whose_sections_no_longer_fit_cannot_be_published(protocol_version):
    from django.core.exceptions import ValidationError

    from checklists.publishing import protocol_version_draft, protocol_version_publish

    draft = protocol_version_draft(version=protocol_version)
    assert (draft.rules, draft.check_in) == (protocol_version.rules, protocol_version.check_in)
    broken = copy.deepcopy(protocol_version.check_in)
    broken["questions"][3]["options"][1]["signs"] = ["no-such-sign"]
    ProtocolVersion.objects.filter(pk=draft.pk).update(check_in=broken)
    with pytest.raises(ValidationError, match="version.check_in.questions.3..options.1..signs: 'no-such-sign'"):
        protocol_version_publish(version=draft)
    ProtocolVersion.objects.filter(pk=draft.pk).update(check_in=protocol_version.check_in)
    broken_rules = copy.deepcopy(protocol_version.rules)
    broken_rules[0]["end"] = 30  # beside until_lifted
    ProtocolVersion.objects.filter(pk=draft.pk).update(rules=broken_rules)
    with pytest.raises(ValidationError, match="version.rules.0.: has both an end and until_lifted"):
        protocol_version_publish(version=draft)
    ProtocolVersion.objects.filter(pk=draft.pk).update(rules=protocol_version.rules)
    draft.definitions.filter(key="blood-thinner-plan").update(sub_items=[{"key": "last-dose", "text": "Last dose"}])
    with pytest.raises(ValidationError, match="restart-day, restart-how: not a sub-item of blood-thinner-plan"):
        protocol_version_publish(version=draft)
    draft.definitions.filter(key="blood-thinner-plan").update(
        sub_items=protocol_version.definitions.get(key="blood-thinner-plan").sub_items
    )
    assert protocol_version_publish(version=draft).content_hash == protocol_version.content_hash


def test_the_restart_shows_the_plans_answers(pat_checklist):
    from checklists.services import task_record_answers

    tasks = {t.definition.key: t for t in pat_checklist.tasks.select_related("definition")}
    restart = tasks["restart-blood-thinner"]  # Pat's blood thinners are not known yet: on her list
    assert [a["answer"] for a in restart.shown_answers()] == ["", ""]
    task_record_answers(task=tasks["blood-thinner-plan"], answers={"restart-day": "Day 2", "restart-how": "Half dose"})
    assert restart.shown_answers() == [
        {"key": "restart-day", "text": "The day I restart after surgery", "answer": "Day 2"},
        {"key": "restart-how", "text": "How I restart (the dose, and anything I take until then)", "answer": "Half dose"},
    ]
    assert restart.shown_answers("es")[0]["text"] == "El día en que vuelvo a tomarlo después de la cirugía"
    assert tasks["first-walk"].shown_answers() == []
