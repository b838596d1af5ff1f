"""The safety card (me/safety), the care team's view (patients/{id}/safety) and rule lifts, through the API."""

from datetime import time, timedelta

import pytest

from checklists.models import RuleLift
from prepapp.models import AuditEntry, Organization, SurgeryCase
from prepapp.services import patient_enrol

from .conftest import client_for
from .safety_support import after_surgery, phones

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("days", [20, 60, 120])
def test_after_surgery_the_card_shows_the_rules_with_their_figures_and_the_phone(
    days, pat, pat_case, pat_checklist, as_pat, riverside
):
    phones(riverside)
    after_surgery(pat, pat_case, days)
    body = as_pat.get("/api/v1/me/safety/").json()
    assert body["phase"] == "recovery" and body["days_after_surgery"] == days
    rules = {r["key"]: r for r in body["rules"]}
    assert {"no-blt", "no-nsaids-after-surgery", "no-driving", "no-nicotine"} <= set(rules)
    assert "30" in rules["no-blt"]["text"] and "5 to 10" in rules["no-blt"]["text"]
    assert rules["no-blt"]["until_lifted"] and rules["no-blt"]["end_date"] is None
    assert body["care_team"] == {
        "organization": "Riverside Spine Center", "phone": "+1 555 0100", "after_hours_phone": "+1 555 0199",
        "check_in_hours": "Monday to Friday, 8:00 to 17:00", "emergency_number": "911",
    }
    assert [g["urgency"] for g in body["warning_signs"]][0] == "emergency"
    assert body["show_signs_on_home"] is False
    assert body["day_of"] is None
    assert body["check_in"]["due_today"] is (days in (21, 28, 35, 42))


def test_in_spanish_and_the_signs_on_home_in_the_first_two_weeks(pat, pat_case, pat_checklist, as_pat):
    after_surgery(pat, pat_case, 3)
    body = as_pat.get("/api/v1/me/safety/?lang=es").json()
    assert body["show_signs_on_home"] is True
    assert body["check_in"] == {"due_today": True, "done_today": False, "day": 3, "next_day": 4}
    english = {r["key"]: r["title"] for r in as_pat.get("/api/v1/me/safety/?lang=en").json()["rules"]}
    assert all(r["title"] != english[r["key"]] for r in body["rules"])
    assert as_pat.get("/api/v1/me/safety/?lang=xx").status_code == 400


def test_before_surgery_the_day_of_card_and_before_surgery_signs(pat, pat_case, pat_checklist, as_pat, riverside):
    SurgeryCase.objects.filter(pk=pat_case.pk).update(
        surgery_date=pat.local_today() + timedelta(days=2), surgery_time=time(10, 0), arrival_time=time(8, 0)
    )
    body = as_pat.get("/api/v1/me/safety/").json()
    assert body["phase"] == "preparation"
    assert "before_surgery" in [g["urgency"] for g in body["warning_signs"]]
    card = body["day_of"]
    assert card["arrival_time"] == "08:00:00" and card["food_cutoff_hours"] == 8 and card["rule_confirmed"] is False
    assert card["food_until"].startswith(f"{pat.local_today() + timedelta(days=2)}T00:00:00")
    assert card["clear_fluids_until"].startswith(f"{pat.local_today() + timedelta(days=2)}T06:00:00")
    # Three days out: no card yet.
    SurgeryCase.objects.filter(pk=pat_case.pk).update(surgery_date=pat.local_today() + timedelta(days=3))
    assert as_pat.get("/api/v1/me/safety/").json()["day_of"] is None


def test_a_patient_without_a_surgery_still_has_the_care_team_and_general_signs(riverside, protocol_version):
    nobody = patient_enrol(organization=riverside, full_name="Nora None", time_zone="UTC")
    body = client_for(nobody.user).get("/api/v1/me/safety/").json()
    assert body["phase"] is None and body["rules"] == [] and body["day_of"] is None
    assert body["care_team"]["organization"] == "Riverside Spine Center"
    assert body["warning_signs"]


def test_the_card_revalidates_with_an_etag(pat, pat_case, pat_checklist, as_pat):
    first = as_pat.get("/api/v1/me/safety/")
    assert "private" in first["Cache-Control"]
    assert as_pat.get("/api/v1/me/safety/", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304


def test_staff_only_and_own_organization(pat, pat_case, pat_checklist, as_pat, as_olga, as_carol):
    url = f"/api/v1/patients/{pat.id}/safety/"
    assert as_pat.get(url).status_code == 403
    assert as_olga.get(url).status_code == 404
    assert as_olga.post(f"/api/v1/patients/{pat.id}/rules/no-driving/lift/", {}, format="json").status_code == 404
    assert as_carol.get(url).status_code == 200
    assert AuditEntry.objects.filter(patient=pat, action="read-safety").count() == 1


def test_lifting_and_reinstating_a_rule(pat, pat_case, pat_checklist, as_carol, as_pat):
    after_surgery(pat, pat_case, 30)
    lift = as_carol.post(f"/api/v1/patients/{pat.id}/rules/no-driving/lift/", {"note": "Surgeon agrees"},
                         format="json")
    assert lift.status_code == 200, lift.json()
    assert lift.json()["lifted"] is True and lift.json()["lifted_by"] == "carol" and lift.json()["can_lift"] is False
    card = as_pat.get("/api/v1/me/safety/").json()
    assert "no-driving" not in {r["key"] for r in card["rules"]}
    assert [r["key"] for r in card["rules_ended"]] == ["no-driving"]
    assert AuditEntry.objects.filter(patient=pat, action="lift-rule").count() == 1
    staff = as_carol.get(f"/api/v1/patients/{pat.id}/safety/").json()
    assert {r["key"]: r["lifted"] for r in staff["rules"]}["no-driving"] is True
    back = as_carol.post(f"/api/v1/patients/{pat.id}/rules/no-driving/reinstate/", {}, format="json")
    assert back.status_code == 200 and back.json()["lifted"] is False and back.json()["can_lift"] is True
    assert not RuleLift.objects.exists()
    assert AuditEntry.objects.filter(patient=pat, action="reinstate-rule").count() == 1


def test_bad_rule_keys_and_notes_are_400_naming_the_field(pat, pat_case, pat_checklist, as_carol):
    after_surgery(pat, pat_case, 30)
    base = f"/api/v1/patients/{pat.id}/rules"
    unknown = as_carol.post(f"{base}/no-such-rule/lift/", {}, format="json")
    assert unknown.status_code == 400 and "rule_key" in unknown.json()
    # A dated rule ends on its own: it cannot be lifted.
    dated = as_carol.post(f"{base}/no-nsaids-before-surgery/lift/", {}, format="json")
    assert dated.status_code == 400 and "rule_key" in dated.json()
    extra = as_carol.post(f"{base}/no-driving/lift/", {"note": "x", "by": "me"}, format="json")
    assert extra.status_code == 400 and "by" in extra.json()
    long = as_carol.post(f"{base}/no-driving/lift/", {"note": "x" * 3000}, format="json")
    assert long.status_code == 400 and "note" in long.json()


def test_the_checklist_shows_stop_today_shown_answers_and_arrival_time(pat, pat_case, pat_checklist, as_pat):
    SurgeryCase.objects.filter(pk=pat_case.pk).update(arrival_time=time(7, 30))
    body = as_pat.get("/api/v1/me/checklist/").json()
    tasks = [t for group in body["groups"].values() for t in group] if isinstance(body.get("groups"), dict) else []
    restart = next(t for t in tasks if t["key"] == "restart-blood-thinner")
    assert [a["key"] for a in restart["shown_answers"]] == ["restart-day", "restart-how"]
    assert all("stop_today" in t and "stop_today_text" in t for t in tasks)
    assert as_pat.get("/api/v1/me/case/").json()["arrival_time"] == "07:30:00"


def test_arrival_after_surgery_time_is_refused(pat, as_carol, pat_case):
    moved = as_carol.post(
        f"/api/v1/cases/{pat_case.id}/reschedule/",
        {"surgery_date": str(pat_case.surgery_date), "surgery_time": "09:00", "arrival_time": "10:00"}, format="json",
    )
    assert moved.status_code == 400 and "arrival_time" in moved.json()
    ok = as_carol.post(
        f"/api/v1/cases/{pat_case.id}/reschedule/",
        {"surgery_date": str(pat_case.surgery_date), "surgery_time": "09:00", "arrival_time": "07:00"}, format="json",
    )
    assert ok.status_code == 200 and ok.json()["arrival_time"] == "07:00:00"


def test_organization_phones_are_validated(riverside):
    from django.core.exceptions import ValidationError

    riverside.care_team_phone = "call 555"
    with pytest.raises(ValidationError) as error:
        riverside.full_clean()
    assert "care_team_phone" in error.value.message_dict
    assert Organization._meta.get_field("food_cutoff_hours").default == 8


def test_the_emergency_number_is_the_clinics_own(pat, pat_case, pat_checklist, riverside, as_pat):
    """A clinic outside the United States sets its own (e.g. 112): the app's emergency buttons dial it."""
    Organization.objects.filter(pk=riverside.pk).update(emergency_number="112")
    assert as_pat.get("/api/v1/me/safety/").json()["care_team"]["emergency_number"] == "112"
