"""Each shipped step's dates, checked against the guide's figures for a known surgery date."""

from datetime import date, datetime, timedelta, timezone as dt_timezone
from decimal import Decimal

import pytest

from checklists.payloads import checklist_payload
from prepapp.models import SurgeryCase
from prepapp.services import patient_enrol
from prepapp.workflows import checklist_assign

SURGERY = date(2027, 3, 15)
ASSIGNED = datetime(2027, 1, 4, 15, 0, tzinfo=dt_timezone.utc)  # ten weeks before: nothing is late yet


def weeks(n):
    return SURGERY - timedelta(weeks=n)


def days(n):
    return SURGERY - timedelta(days=n)


# After surgery. The guide's timeline counts in weeks and months after the operation:
# "weeks 3 to 6" runs from the first day of the 3rd week to the last day of the 6th.
def after(n):
    return SURGERY + timedelta(days=n)


def week_starts(n):
    return after(7 * (n - 1) + 1)


def week_ends(n):
    return after(7 * n)


def month_starts(n):  # a month counts 30 days
    return after(30 * (n - 1) + 1)


def month_ends(n):
    return after(30 * n)


def make_checklist(organization, protocol_version, **facts):
    patient = patient_enrol(organization=organization, full_name="Test Patient", time_zone="America/Chicago", **facts)
    # Booked directly: the service refuses past dates relative to the real clock, and this date is fixed.
    case = SurgeryCase.objects.create(patient=patient, procedure="MIS lumbar fusion", surgery_date=SURGERY)
    checklist = checklist_assign(case=case, protocol_version=protocol_version, now=ASSIGNED)
    return {t.definition.key: t for t in checklist.tasks.select_related("definition")}


@pytest.fixture
def everything(riverside, protocol_version):
    return make_checklist(
        riverside, protocol_version, weight_kg=Decimal("80"),
        smoker=True, diabetic=True, on_blood_thinners=True, takes_nsaids=True, bone_density_concern=True,
        heart_or_lung_condition=True,
    )


# (key, window start, due date, window end) straight from the guide's preparation section.
EXPECTED = [
    ("stop-smoking", weeks(6), weeks(4), weeks(4)),  # at least 4 to 6 weeks before
    # At least 7 to 10 days before: due at 10, so a slip still leaves time; 7 is the last day.
    ("stop-nsaids", days(10), days(10), days(7)),
    ("prehab", weeks(8), weeks(6), days(1)),  # in the 4 to 8 weeks before
    ("protein-target", weeks(6), weeks(4), SURGERY),  # in the weeks before (and after)
    ("calcium-vitamin-d", weeks(6), weeks(4), SURGERY),
    ("blood-thinner-plan", weeks(4), weeks(2), weeks(2)),
    ("bleeding-supplements", weeks(4), weeks(2), weeks(2)),
    ("glucose-control", weeks(6), weeks(4), days(1)),
    ("preop-evaluation", weeks(6), weeks(2), weeks(2)),
    ("dexa-scan", weeks(6), weeks(2), weeks(2)),  # with the pre-operative evaluation
    ("medical-clearance", weeks(6), weeks(2), weeks(2)),
    ("surgeon-questions", weeks(6), weeks(2), weeks(2)),
    ("review-medicines", weeks(6), weeks(3), weeks(3)),
    ("sleeping-area", weeks(3), weeks(1), weeks(1)),
    ("grab-bars", weeks(3), weeks(1), weeks(1)),
    ("driving-plan", weeks(3), weeks(1), weeks(1)),
    ("meals-and-help", weeks(2), days(3), days(3)),
    ("no-blt-practice", weeks(2), days(3), days(3)),
    # The night before and the day itself: general pre-operative practice, not the guide's.
    ("eating-drinking-cutoff", days(1), days(1), SURGERY),
    ("pack-hospital-bag", weeks(1), days(1), days(1)),
    ("ride-home-and-adult", weeks(1), days(1), days(1)),
    ("skin-wash", days(1), SURGERY, SURGERY),
    ("morning-medicines", days(1), SURGERY, SURGERY),
]

# (key, window start, due date, window end) from the guide's week-by-week recovery timeline
# and its section on helping the fusion heal.
RECOVERY = [
    ("first-walk", after(1), after(2), after(2)),  # walking within 1 to 2 days
    ("restart-blood-thinner", after(1), after(3), after(3)),  # the written stop-and-restart plan
    ("wound-checks", week_starts(1), week_ends(2), week_ends(2)),  # weeks 1 to 2: signs of infection
    ("taper-opioids", week_starts(3), week_ends(6), week_ends(6)),  # weeks 3 to 6: to acetaminophen
    ("start-physical-therapy", week_starts(3), week_ends(6), week_ends(6)),  # weeks 3 to 6: PT begins
    ("driving-again", after(14), after(28), after(28)),  # no sooner than 2 to 4 weeks
    ("return-to-desk-work", week_starts(3), week_ends(6), week_ends(6)),  # desk work within 3 to 6 weeks
    ("first-followup-imaging", month_starts(2), month_ends(3), month_ends(3)),  # months 2 to 3
    # Months 3 to 6, opening with its stage the day after months 2 to 3 (which share month 3) end.
    ("low-impact-exercise", month_starts(4), month_ends(6), month_ends(6)),
    ("fusion-ct", month_starts(6), month_ends(12), month_ends(12)),  # months 6 to 12: CT confirms fusion
    ("nutrition-through-fusion", after(1), month_ends(12), month_ends(12)),  # through the 6 to 12 month fusion
]


@pytest.mark.parametrize("key, window_start, due, window_end", EXPECTED, ids=[e[0] for e in EXPECTED])
def test_each_step_falls_on_the_guide_dates(everything, key, window_start, due, window_end):
    task = everything[key]
    assert (task.window_start, task.due_date, task.window_end) == (window_start, due, window_end)
    assert task.late is False


@pytest.mark.parametrize("key, window_start, due, window_end", RECOVERY, ids=[e[0] for e in RECOVERY])
def test_each_recovery_step_falls_on_the_guide_dates(everything, key, window_start, due, window_end):
    task = everything[key]
    assert (task.window_start, task.due_date, task.window_end) == (window_start, due, window_end)
    assert task.late is False and task.definition.phase == "recovery"
    assert window_start > SURGERY


def test_the_recovery_timeline_in_plain_dates(everything):
    # The same figures as calendar dates for a surgery on Monday 15 March 2027.
    assert everything["first-walk"].due_date == date(2027, 3, 17)
    assert everything["taper-opioids"].window_start == date(2027, 3, 30)  # week 3 begins on day 15
    assert everything["driving-again"].window_start == date(2027, 3, 29)  # 2 weeks
    assert everything["restart-blood-thinner"].due_date == date(2027, 3, 18)  # 3 days
    assert everything["low-impact-exercise"].window_start == date(2027, 6, 14)  # day 91
    assert everything["fusion-ct"].due_date == date(2028, 3, 9)  # 360 days


def test_every_shipped_step_is_covered_by_the_table(everything):
    assert set(everything) == {e[0] for e in EXPECTED + RECOVERY}


NO_RISK_FACTS = {
    "smoker": False, "diabetic": False, "on_blood_thinners": False, "takes_nsaids": False,
    "bone_density_concern": False, "heart_or_lung_condition": False,
}
CONDITIONAL_STEPS = {"stop-smoking", "stop-nsaids", "blood-thinner-plan", "glucose-control", "dexa-scan",
                     "medical-clearance", "restart-blood-thinner"}


def test_recovery_steps_reach_patients_with_no_risk_facts(riverside, protocol_version):
    tasks = make_checklist(riverside, protocol_version, **NO_RISK_FACTS)
    # Every recovery step but the blood thinner's restart (NSAIDs after surgery, which concern
    # every fusion patient, are a rule in force now: tests/test_rules_in_force.py).
    assert {e[0] for e in RECOVERY} - set(tasks) == {"restart-blood-thinner"}
    assert "stop-nsaids" not in tasks


def test_tailoring_leaves_out_what_does_not_apply(riverside, protocol_version):
    tasks = make_checklist(riverside, protocol_version, **NO_RISK_FACTS)
    assert not CONDITIONAL_STEPS & set(tasks)
    assert {"bleeding-supplements", "protein-target", "surgeon-questions", "preop-evaluation"} <= set(tasks)


def test_facts_not_known_yet_keep_their_steps_marked_conditional(riverside, protocol_version):
    # Nothing said about her facts: every step that depends on one is on her list, flagged.
    tasks = make_checklist(riverside, protocol_version)
    assert CONDITIONAL_STEPS <= set(tasks)
    payload = checklist_payload(tasks["stop-smoking"].checklist, language="en")
    flags = {t["key"]: (t["conditional"], t["conditional_on"]) for group in payload["groups"].values() for t in group}
    assert flags["stop-smoking"] == (True, [{"fact": "smoker", "applies_when": True}])
    assert flags["medical-clearance"] == (True, [{"fact": "heart_or_lung_condition", "applies_when": True}])
    assert flags["protein-target"] == (False, [])


def test_guide_figures_reach_the_patient(everything):
    checklist = everything["stop-smoking"].checklist
    payload = checklist_payload(checklist, language="en")
    tasks = {t["key"]: t for group in payload["groups"].values() for t in group}
    assert tasks["protein-target"]["targets"][0]["text"] == "96–128 g/day"  # 1.2–1.6 g × 80 kg
    calcium = {t["key"]: t["text"] for t in tasks["calcium-vitamin-d"]["targets"]}
    assert calcium == {"calcium": "1200 mg/day", "vitamin-d": "2000 IU/day"}
    assert len(tasks["surgeon-questions"]["sub_items"]) == 10
    assert "7 to 10 days" in tasks["stop-nsaids"]["instructions"]
    assert "7 days before surgery is the last day" in tasks["stop-nsaids"]["instructions"]
    assert "3 to 6 months" in tasks["stop-nsaids"]["instructions"]
    assert "30 degrees" in tasks["no-blt-practice"]["instructions"]  # the rule itself: test_rules_in_force.py
    assert "5 to 10 pounds" in tasks["no-blt-practice"]["instructions"]
    assert "acetaminophen (also called paracetamol)" in tasks["taper-opioids"]["instructions"]
    assert "NSAIDs such as ibuprofen" in tasks["taper-opioids"]["instructions"]
    assert "1 to 2 days" in tasks["first-walk"]["instructions"]
    assert "months 6 to 12" in tasks["fusion-ct"]["instructions"]
    assert "4 to 6 weeks" in tasks["stop-smoking"]["instructions"]
    assert "2 to 4 weeks" in tasks["driving-plan"]["instructions"]
    for key in ("fish oil", "vitamin E", "garlic"):
        assert key.lower() in tasks["bleeding-supplements"]["instructions"].lower()


def test_spanish_texts_come_from_the_protocol(everything):
    payload = checklist_payload(everything["stop-smoking"].checklist, language="es")
    tasks = {t["key"]: t for group in payload["groups"].values() for t in group}
    assert tasks["stop-smoking"]["title"] != "Stop smoking and all nicotine"
    assert tasks["protein-target"]["targets"][0]["label"] != "Protein"


def test_steps_already_past_when_assigned_are_kept_and_marked_late(riverside, protocol_version):
    patient = patient_enrol(
        organization=riverside, full_name="Late Lara", time_zone="Europe/Madrid", smoker=True, takes_nsaids=False
    )
    case = SurgeryCase.objects.create(patient=patient, procedure="MIS lumbar fusion", surgery_date=SURGERY)
    # Assigned 20 days before surgery: the medicine review's window (ends 3 weeks before) is behind her.
    checklist = checklist_assign(case=case, protocol_version=protocol_version, now=datetime(2027, 2, 23, 12, tzinfo=dt_timezone.utc))
    tasks = {t.definition.key: t for t in checklist.tasks.select_related("definition")}
    assert tasks["review-medicines"].late is True
    assert tasks["review-medicines"].status == "open"
    # So is the smoking window (ends 4 weeks before), but stopping cannot wait: due that day.
    assert tasks["stop-smoking"].late is False and tasks["stop-smoking"].due_date == date(2027, 2, 23)
    assert "stop-nsaids" not in tasks  # she takes none
    assert tasks["sleeping-area"].late is False


@pytest.mark.parametrize("zone, late", [("America/Chicago", False), ("Europe/Madrid", True)])
def test_lateness_uses_the_calendar_date_where_the_patient_lives(riverside, protocol_version, zone, late):
    patient = patient_enrol(organization=riverside, full_name="Zoe Zone", time_zone=zone, smoker=True)
    case = SurgeryCase.objects.create(patient=patient, procedure="MIS lumbar fusion", surgery_date=SURGERY)
    # 23:30 UTC on the medicine review's last day: still that day in Chicago, already the next in Madrid.
    now = datetime.combine(weeks(3), datetime.min.time(), tzinfo=dt_timezone.utc) + timedelta(hours=23, minutes=30)
    checklist = checklist_assign(case=case, protocol_version=protocol_version, now=now)
    assert checklist.tasks.get(definition__key="review-medicines").late is late
    # A stop is due on the patient's own today, too: short of its six weeks, smoking is due
    # that day where she lives.
    smoking = checklist.tasks.get(definition__key="stop-smoking")
    assert smoking.due_date == (weeks(3) + timedelta(days=1) if late else weeks(3))
