"""About your surgery: the protocol file's pages and glossary, the case's approach and level, me/about."""

import copy
from datetime import timedelta

import pytest
import yaml
from django.core.exceptions import ValidationError

from checklists.about import about_payload
from checklists.protocol_files import ProtocolFileError, parse_protocol, shipped_protocol_files
from checklists.protocol_files.about import term_pattern
from prepapp.models import AuditEntry
from prepapp.procedures import normalise_level
from prepapp.services import patient_enrol
from prepapp.workflows import case_book, case_cancel, case_describe, checklist_assign

from .conftest import client_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/me/about/"


def shipped() -> dict:
    return yaml.safe_load(shipped_protocol_files()[0].read_text(encoding="utf-8"))


# --- The protocol file --------------------------------------------------------------------------


def test_the_shipped_pages_and_glossary_are_read_and_stored(protocol_version):
    pages = {page["key"]: page for page in protocol_version.about["pages"]}
    assert list(pages)[:3] == ["what-it-is", "compared", "approaches"]
    assert {page["approach"] for page in pages.values()} == {"", "mis-tlif", "xlif-llif", "alif", "mis-plif"}
    rows = {row["key"]: row for row in pages["compared"]["table"]}
    # The guide's figures: an incision of about 1 inch against 5 to 6, same day to 3 nights against 3 to 5 days.
    assert "1 inch" in rows["incision"]["minimally_invasive"] and "5 to 6" in rows["incision"]["open"]
    assert "1 to 3 nights" in rows["stay"]["minimally_invasive"] and "3 to 5 days" in rows["stay"]["open"]
    assert "500 ml" in rows["blood-loss"]["open"]
    assert "85 to 90%" in pages["outcomes"]["text"] and "vary" in pages["outcomes"]["text"]
    assert pages["recovery"]["stages"] == [stage["key"] for stage in protocol_version.recovery_stages]
    for page in pages.values():
        assert page["source_section"] and page["translations"]["es"]["source_section"]
    terms = {entry["key"] for entry in protocol_version.glossary}
    assert {"fusion", "no-blt", "dexa", "pseudarthrosis", "mis-tlif", "xlif-llif", "alif", "mis-plif"} <= terms


def broken(change) -> dict:
    data = copy.deepcopy(shipped())
    change(data)
    return data


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["about"]["pages"][0].pop("source_section"), r"about\.pages\[0\]: missing key\(s\) source_section"),
    (lambda d: d["about"]["pages"][3].update(approach="open-fusion"), r"pages\[3\]\.approach: 'open-fusion' is not one of"),
    (lambda d: d["about"]["pages"][4].update(approach="mis-tlif"), r"about\.pages: duplicate approach key\(s\) mis-tlif"),
    (lambda d: d["about"]["pages"][0]["translations"].pop("es"), r"pages\[0\]\.translations\.es: is missing"),
    (lambda d: d["about"]["pages"][1]["table"][0]["translations"]["es"].pop("open"),
     r"table\[0\]\.translations\.es\.open: must be non-empty text"),
    (lambda d: d["about"]["pages"][8].update(stages=["weeks-1-2", "week-99"]), r"week-99: not a recovery stage"),
    (lambda d: d["about"]["pages"][1].update(key="Compared Pages"), r"pages\[1\]\.key: 'Compared Pages': use lower-case"),
    (lambda d: d["glossary"][0].update(matches=[]), r"glossary\[0\]\.matches: must be a non-empty list"),
    (lambda d: d["glossary"][0]["translations"]["es"].pop("matches"), r"glossary\[0\]\.translations\.es\.matches"),
    # A typo in a match would link nowhere: refused on load, in the language it is in.
    (lambda d: d["glossary"][2].update(matches=["DEXXA"]), r"glossary\[2\]\.matches: none of DEXXA is in the protocol"),
    (lambda d: d["glossary"][2]["translations"]["es"].update(matches=["DEXXA"]),
     r"glossary\[2\]\.translations\.es\.matches: none of DEXXA"),
    (lambda d: d["glossary"].append(copy.deepcopy(d["glossary"][0])), r"glossary: duplicate entry key\(s\) fusion"),
])
def test_a_broken_section_is_refused_naming_the_place(change, message):
    with pytest.raises(ProtocolFileError, match=message):
        parse_protocol(broken(change), name="f")


def test_terms_match_whole_words_in_any_case_the_longest_first():
    pattern = term_pattern(["XLIF", "XLIF/LLIF", "fusion"])
    assert pattern.search("an XLIF/LLIF approach").group() == "XLIF/LLIF"
    assert pattern.search("Fusion takes months").group() == "Fusion"
    assert pattern.search("confusions") is None and pattern.search("fusional") is None
    assert term_pattern(["fusión"]).search("la fusión lumbar").group() == "fusión"


# --- Approach and level on the case -----------------------------------------------------------


@pytest.mark.parametrize(("typed", "stored"), [
    ("L4-L5", "L4–L5"), ("l5-s1", "L5–S1"), (" L4 – L5 ", "L4–L5"), ("L3–L5", "L3–L5"), ("", ""),
])
def test_a_level_is_written_the_one_way(typed, stored):
    assert normalise_level(typed) == stored


@pytest.mark.parametrize("typed", ["L5-L4", "L4", "L6-S1", "L4-L4", "S1-L5", "T12-L1", "L4-L5; drop table"])
def test_a_level_written_otherwise_is_refused(typed):
    with pytest.raises(ValidationError):
        normalise_level(typed)


def test_the_coordinator_notes_approach_and_level(as_carol, carol, pat, pat_case):
    response = as_carol.post(f"/api/v1/cases/{pat_case.id}/describe/", {"approach": "alif", "level": "l5-s1"},
                             format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["approach"], response.json()["level"]) == ("alif", "L5–S1")
    pat_case.refresh_from_db()
    assert (pat_case.approach, pat_case.level) == ("alif", "L5–S1")
    assert AuditEntry.objects.filter(actor=carol, patient=pat, action="describe").count() == 1
    # Both can be cleared again: not known after all.
    assert as_carol.post(f"/api/v1/cases/{pat_case.id}/describe/", {"approach": "", "level": ""},
                         format="json").json()["approach"] == ""


@pytest.mark.parametrize(("body", "field"), [
    ({"approach": "open", "level": "L4-L5"}, "approach"),
    ({"approach": "alif", "level": "L5-L4"}, "level"),
    ({"approach": "alif", "level": "L4-L5" * 5}, "level"),
    ({"approach": "alif"}, "level"),
    ({"approach": "alif", "level": "L4-L5", "surgeon": "Dr X"}, "surgeon"),
])
def test_bad_details_get_a_400_naming_the_field_and_change_nothing(as_carol, pat_case, body, field):
    response = as_carol.post(f"/api/v1/cases/{pat_case.id}/describe/", body, format="json")
    assert response.status_code == 400 and field in response.json()
    pat_case.refresh_from_db()
    assert (pat_case.approach, pat_case.level) == ("", "")


def test_a_cancelled_surgery_keeps_its_details(as_carol, pat_case):
    case_cancel(case=pat_case)
    response = as_carol.post(f"/api/v1/cases/{pat_case.id}/describe/", {"approach": "alif", "level": "L4-L5"},
                             format="json")
    assert response.status_code == 400 and "status" in response.json()


def test_booking_takes_approach_and_level(as_carol, paul):
    response = as_carol.post("/api/v1/cases/", {
        "patient": paul.id, "procedure": "Minimally invasive lumbar fusion", "surgery_date": "2099-01-01",
        "approach": "mis-tlif", "level": "L4-L5",
    }, format="json")
    # Too far ahead is refused, whatever the details: the date's rule still holds.
    assert response.status_code == 400 and "surgery_date" in response.json()
    response = as_carol.post("/api/v1/cases/", {
        "patient": paul.id, "procedure": "Minimally invasive lumbar fusion", "surgery_date": _in_days(paul, 40),
        "approach": "mis-tlif", "level": "L4-L5",
    }, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["approach"], response.json()["level"]) == ("mis-tlif", "L4–L5")
    bad = as_carol.post("/api/v1/cases/", {
        "patient": paul.id, "procedure": "x", "surgery_date": _in_days(paul, 40), "level": "four-five",
    }, format="json")
    assert bad.status_code == 400 and "level" in bad.json()


def _in_days(patient, days):
    return (patient.local_today() + timedelta(days=days)).isoformat()


def test_another_organizations_staff_cannot_describe_or_read_the_case(as_olga, pat_case):
    response = as_olga.post(f"/api/v1/cases/{pat_case.id}/describe/", {"approach": "alif", "level": "L4-L5"},
                            format="json")
    assert response.status_code == 404
    assert "alif" not in response.content.decode()
    pat_case.refresh_from_db()
    assert pat_case.approach == ""


def test_patients_cannot_describe_their_case(as_pat, pat_case):
    response = as_pat.post(f"/api/v1/cases/{pat_case.id}/describe/", {"approach": "alif", "level": "L4-L5"},
                           format="json")
    assert response.status_code == 403
    pat_case.refresh_from_db()
    assert pat_case.approach == ""


# --- me/about ------------------------------------------------------------------------------------


def test_the_patient_reads_the_pages_with_their_approach_first(as_pat, pat_case, pat_checklist, carol):
    body = as_pat.get(URL).json()
    assert body["approach"] is None and body["your_page"] is None
    assert [page["key"] for page in body["pages"]][:2] == ["what-it-is", "compared"]
    case_describe(case=pat_case, approach="xlif-llif", level="L3-L4", by=carol)
    body = as_pat.get(URL).json()
    assert (body["approach"], body["approach_label"], body["level"]) == ("xlif-llif", "XLIF/LLIF", "L3–L4")
    assert body["your_page"] == "xlif-llif" and body["pages"][0]["key"] == "xlif-llif"
    assert [page["key"] for page in body["pages"]][1:3] == ["what-it-is", "compared"]
    compared = next(page for page in body["pages"] if page["key"] == "compared")
    assert [row["key"] for row in compared["table"]] == ["incision", "blood-loss", "stay", "recovery"]
    recovery = next(page for page in body["pages"] if page["key"] == "recovery")
    assert recovery["stages"][0] == {"key": "first-days", "label": recovery["stages"][0]["label"],
                                     "start_day": 1, "end_day": 2}
    assert all(len(page["paragraphs"]) >= 1 and page["source_section"] for page in body["pages"])
    # The checklist's case carries the same details, for the countdown.
    case = as_pat.get("/api/v1/me/checklist/").json()["case"]
    assert (case["approach"], case["level"]) == ("xlif-llif", "L3–L4")


def test_in_spanish(as_pat, pat_case, pat_checklist):
    body = as_pat.get(URL, {"lang": "es"}).json()
    assert body["language"] == "es"
    first = body["pages"][0]
    assert first["title"] == "Qué es la operación y por qué se hace"
    compared = next(page for page in body["pages"] if page["key"] == "compared")
    assert compared["table"][0]["open"] == "5 a 6 pulgadas"
    fusion = next(entry for entry in body["glossary"] if entry["key"] == "fusion")
    assert fusion["term"] == "Fusión" and "fusión" in fusion["matches"]
    assert as_pat.get(URL, {"lang": "xx"}).status_code == 400


def test_an_unchanged_answer_is_a_304_and_a_new_approach_changes_it(as_pat, pat_case, pat_checklist, carol):
    first = as_pat.get(URL)
    etag = first["ETag"]
    assert as_pat.get(URL, HTTP_IF_NONE_MATCH=etag).status_code == 304
    case_describe(case=pat_case, approach="alif", level="", by=carol)
    again = as_pat.get(URL, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 200 and again.json()["pages"][0]["key"] == "alif"


def test_texts_are_kept_per_version_and_language(pat_checklist, django_assert_num_queries):
    version, case = pat_checklist.protocol_version, pat_checklist.case
    first = about_payload(version, case, language="es")
    with django_assert_num_queries(0):
        again = about_payload(version, case, language="es")
    assert again["pages"] == first["pages"]
    # Kept texts are not changed by a caller who reorders the pages it got.
    again["pages"].reverse()
    assert about_payload(version, case, language="es")["pages"][0]["key"] == "what-it-is"


def test_only_the_signed_in_patient_and_only_their_own(as_pat, as_paul, as_carol, as_olga, client, pat_checklist):
    assert as_pat.get(URL).status_code == 200
    # Paul has no checklist: his own answer is a 404, never Pat's pages.
    assert as_paul.get(URL).status_code == 404
    for staff in (as_carol, as_olga):
        assert staff.get(URL).status_code == 403
    assert client.get(URL).status_code in (401, 403)


def test_another_organizations_patient_reads_only_their_own(pat_checklist, elsewhere, protocol_version, olga):
    other = patient_enrol(organization=elsewhere, full_name="Oscar Outside", time_zone="UTC")
    case = case_book(patient=other, procedure="Minimally invasive lumbar fusion",
                     surgery_date=other.local_today() + timedelta(days=30), approach="alif", level="L5-S1")
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=olga)
    body = client_for(other.user).get(URL).json()
    assert body["pages"][0]["key"] == "alif" and body["level"] == "L5–S1"
    pat_body = client_for(pat_checklist.case.patient.user).get(URL).json()
    assert pat_body["level"] is None and pat_body["pages"][0]["key"] == "what-it-is"


def test_the_checklists_validator_moves_with_the_operations_details(as_pat, pat_case, pat_checklist, carol):
    etag = as_pat.get("/api/v1/me/checklist/")["ETag"]
    case_describe(case=pat_case, approach="mis-tlif", level="L4-L5", by=carol)
    again = as_pat.get("/api/v1/me/checklist/", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 200 and again.json()["case"]["approach"] == "mis-tlif"


def test_the_level_is_written_one_way_whoever_saves_it(pat_case):
    pat_case.level = "l5 - s1"
    pat_case.full_clean(exclude=["patient"])
    assert pat_case.level == "L5–S1"
    pat_case.level = "L5-L4"
    with pytest.raises(ValidationError) as refused:
        pat_case.full_clean(exclude=["patient"])
    assert "level" in refused.value.message_dict


def test_the_patients_export_has_the_operations_details(as_pat, pat_case, pat_checklist, carol):
    case_describe(case=pat_case, approach="alif", level="L5-S1", by=carol)
    exported = as_pat.get("/api/v1/me/export/").json()
    assert (exported["surgeries"][0]["approach"], exported["surgeries"][0]["level"]) == ("alif", "L5–S1")
