"""Warning signs and the check-in at home: what must not wait, and what each answer tells the patient.

checklists.safety groups the shipped protocol's signs by urgency for a phase, lists the
check-in questions, and maps red-flag answers to their signs and urgencies at once (nobody may
be reading in the night, so the answer itself says whom to call).
"""

import copy
from datetime import date, timedelta

import pytest
import yaml

from checklists import safety
from checklists.models import ProtocolVersion
from checklists.protocol_files import (
    GENERAL_PRACTICE,
    URGENCIES,
    ProtocolFileError,
    parse_protocol,
    read_protocol_file,
    shipped_protocol_files,
)

SURGERY = date(2027, 3, 15)


@pytest.fixture(scope="module")
def parsed():
    return read_protocol_file(shipped_protocol_files()[0])


@pytest.fixture(scope="module")
def version(parsed):
    return ProtocolVersion(**{field: parsed[field] for field in ("translations", "rules", "warning_signs", "check_in")})


def keys_by_urgency(groups):
    return {group["urgency"]: [sign["key"] for sign in group["signs"]] for group in groups}


# --- Warning signs ---------------------------------------------------------------------------


def test_after_surgery_the_signs_by_urgency(version):
    groups = safety.warning_signs(version, phase="recovery")
    assert [g["urgency"] for g in groups] == ["emergency", "call_today"]  # most urgent first
    assert keys_by_urgency(groups) == {
        "emergency": ["leg-weakness", "bladder-bowel-saddle", "chest-pain-breathless", "cannot-pass-urine"],
        "call_today": ["calf-clot", "fever", "wound-infection", "clear-fluid-or-headache", "uncontrolled-pain"],
    }
    assert groups[0]["action"].startswith("Call emergency services now")
    assert groups[1]["action"].startswith("Call your care team today")


def test_before_surgery_the_signs_by_urgency(version):
    groups = safety.warning_signs(version, phase="preparation")
    assert keys_by_urgency(groups) == {
        # Nerve pressure and chest pain cannot wait before the operation either.
        "emergency": ["leg-weakness", "bladder-bowel-saddle", "chest-pain-breathless"],
        "before_surgery": ["fever-before-surgery", "new-infection", "cold-or-flu", "skin-wound-near-site"],
    }
    assert groups[1]["action"].startswith("Call your care team before you come in")


def test_the_signs_the_guide_does_not_give_are_marked_for_review(parsed):
    signs = {s["key"]: s for s in parsed["warning_signs"]["signs"]}
    # The guide watches the wound for infection in weeks 1 to 2; the other signs are general practice.
    assert signs["wound-infection"]["source_section"].startswith("Recovery timeline, weeks 1 to 2")
    for key, sign in signs.items():
        if key != "wound-infection":
            assert sign["source_section"] in GENERAL_PRACTICE, key
        if sign["urgency"] == "before_surgery":
            assert sign["source_section"] == "general pre-operative practice", key
    assert "general post-operative practice" in {s["source_section"] for s in signs.values()}


def test_the_fever_figure_is_general_practice_in_both_languages(version):
    recovery = {s["key"]: s for g in safety.warning_signs(version, phase="recovery") for s in g["signs"]}
    assert "38 °C (100.4 °F)" in recovery["fever"]["text"]
    spanish = {s["key"]: s for g in safety.warning_signs(version, phase="recovery", language="es") for s in g["signs"]}
    assert "38 °C (100,4 °F)" in spanish["fever"]["text"]
    assert recovery["fever"]["source_section"] == "general post-operative practice"


def test_the_signs_in_spanish(version):
    groups = safety.warning_signs(version, phase="recovery", language="es")
    assert groups[0]["action"].startswith("Llame ahora mismo a los servicios de emergencia")
    assert groups[1]["action"].startswith("Llame hoy a su equipo médico")
    texts = {s["key"]: s["text"] for g in groups for s in g["signs"]}
    assert texts["leg-weakness"].startswith("Debilidad")
    assert texts["calf-clot"].endswith("llame ahora mismo a los servicios de emergencia.")


def test_a_clot_with_breathlessness_is_an_emergency(version):
    recovery = {s["key"]: s for g in safety.warning_signs(version, phase="recovery") for s in g["signs"]}
    assert "short of breath" in recovery["calf-clot"]["text"] and "call emergency services now" in recovery["calf-clot"]["text"]
    assert "shortness of breath" in recovery["chest-pain-breathless"]["text"]


def test_an_unknown_phase_is_refused(version):
    with pytest.raises(ValueError, match="phase: 'during' is not one of preparation, recovery"):
        safety.warning_signs(version, phase="during")


def test_the_urgencies_are_one_list():
    assert safety.URGENCIES == URGENCIES


def test_stored_on_the_version(protocol_version):
    assert len(protocol_version.warning_signs["signs"]) == 13
    assert protocol_version.localized_urgency("emergency", "es").startswith("Llame ahora mismo")
    assert protocol_version.localized_urgency("nonsense", "en") == ""
    sign = protocol_version.warning_signs["signs"][0]
    assert protocol_version.localized_warning_sign(sign, "es").startswith("Debilidad")


# --- The check-in ----------------------------------------------------------------------------


def test_the_check_in_questions(version):
    questions = {q["key"]: q for q in safety.check_in_questions(version)}
    assert list(questions) == ["back-pain", "leg-pain", "walking", "wound", "fever", "bladder-bowels", "new-weakness"]
    assert (questions["back-pain"]["kind"], questions["back-pain"]["min"], questions["back-pain"]["max"]) == ("scale", 0, 10)
    assert [o["key"] for o in questions["walking"]["options"]] == ["yes", "a-little", "no"]
    assert all(o["urgency"] is None for o in questions["walking"]["options"])
    wound = {o["key"]: o for o in questions["wound"]["options"]}
    assert (wound["fine"]["urgency"], wound["red-or-swollen"]["urgency"], wound["leaking"]["urgency"]) == (
        None, "call_today", "call_today"
    )
    weakness = {o["key"]: o for o in questions["new-weakness"]["options"]}
    assert weakness["yes"]["signs"] == ["leg-weakness"] and weakness["yes"]["urgency"] == "emergency"


def test_the_check_in_in_spanish(version):
    questions = {q["key"]: q for q in safety.check_in_questions(version, "es")}
    assert questions["walking"]["text"] == "¿Se levantó y caminó hoy?"
    assert [o["text"] for o in questions["walking"]["options"]] == ["Sí", "Un poco", "No"]
    assert "100,4 °F" in questions["fever"]["text"]
    texts = version.localized_check_in("es")
    assert "no a toda hora" in texts["intro"] and texts["all_clear"].startswith("Gracias")


def test_the_check_in_says_nobody_watches_around_the_clock(version):
    assert "not around the clock" in version.localized_check_in("en")["intro"]


def test_new_leg_weakness_is_an_emergency(version):
    assert safety.check_in_red_flags(version, {"new-weakness": "yes"}) == [("leg-weakness", "emergency")]
    reply = safety.check_in_reply(version, {"new-weakness": "yes", "back-pain": 3})
    assert reply["urgency"] == "emergency" and reply["message"].startswith("Call emergency services now")


def test_red_flags_most_urgent_first_each_once(version):
    answers = {
        "back-pain": 6, "leg-pain": 2, "walking": "a-little", "wound": "leaking", "fever": "yes",
        "bladder-bowels": "problem", "new-weakness": "no",
    }
    assert safety.check_in_red_flags(version, answers) == [
        ("cannot-pass-urine", "emergency"),
        ("bladder-bowel-saddle", "emergency"),
        ("wound-infection", "call_today"),
        ("clear-fluid-or-headache", "call_today"),
        ("fever", "call_today"),
    ]
    assert safety.check_in_red_flags(version, {"wound": "red-or-swollen", "fever": "yes"}) == [
        ("wound-infection", "call_today"), ("fever", "call_today"),
    ]
    reply = safety.check_in_reply(version, {"wound": "red-or-swollen"}, language="es")
    assert reply["urgency"] == "call_today" and reply["message"].startswith("Llame hoy")


def test_answers_that_match_no_sign_are_all_clear(version):
    answers = {"back-pain": 10, "leg-pain": 0, "walking": "no", "wound": "fine", "fever": "no",
               "bladder-bowels": "normal", "new-weakness": "no"}
    assert safety.check_in_red_flags(version, answers) == []
    reply = safety.check_in_reply(version, answers)
    assert reply == {"urgency": None, "message": version.localized_check_in("en")["all_clear"], "red_flags": []}
    assert safety.check_in_red_flags(version, {}) == []  # nothing answered yet


@pytest.mark.parametrize(
    "answers, message",
    [
        ({"mood": "fine"}, "answers.mood: not a question of this check-in"),
        ({"wound": "purple"}, "answers.wound: 'purple' is not one of fine, red-or-swollen, leaking"),
        ({"new-weakness": True}, "answers.new-weakness: True is not one of yes, no"),
        ({"back-pain": 11}, "answers.back-pain: 11 is not a whole number from 0 to 10"),
        ({"back-pain": -1}, "answers.back-pain: -1 is not a whole number from 0 to 10"),
        ({"leg-pain": "7"}, "answers.leg-pain: '7' is not a whole number from 0 to 10"),
        ({"leg-pain": 2.5}, "answers.leg-pain: 2.5 is not a whole number"),
        ({"leg-pain": True}, "answers.leg-pain: True is not a whole number"),
        (["wound"], "answers: must be a mapping"),
    ],
)
def test_answers_are_checked_strictly(version, answers, message):
    with pytest.raises(ValueError) as excinfo:
        safety.check_in_red_flags(version, answers)
    assert message in str(excinfo.value)


def test_an_unknown_answer_refuses_the_whole_check_in(version):
    # A red flag beside a bad answer is not half-read: the caller asks again, nothing is raised twice.
    with pytest.raises(ValueError, match="answers.fever"):
        safety.check_in_red_flags(version, {"new-weakness": "yes", "fever": "maybe"})


@pytest.mark.parametrize(
    "day, due",
    [(-1, False), (0, False), (1, True), (7, True), (14, True), (15, False), (20, False), (21, True),
     (28, True), (35, True), (36, False), (42, True), (49, False), (100, False)],
)
def test_check_in_days_daily_for_two_weeks_then_weekly_to_week_six(day, due):
    assert safety.check_in_due(SURGERY, SURGERY + timedelta(days=day)) is due


def test_the_next_check_in():
    assert safety.next_check_in(SURGERY, SURGERY - timedelta(days=3)) == SURGERY + timedelta(days=1)
    assert safety.next_check_in(SURGERY, SURGERY + timedelta(days=15)) == SURGERY + timedelta(days=21)
    assert safety.next_check_in(SURGERY, SURGERY + timedelta(days=42)) == SURGERY + timedelta(days=42)
    assert safety.next_check_in(SURGERY, SURGERY + timedelta(days=43)) is None


# --- What the file may not say ---------------------------------------------------------------


def shipped_data():
    return yaml.safe_load(shipped_protocol_files()[0].read_text())


def sign_named(data, key):
    return next(s for s in data["warning_signs"]["signs"] if s["key"] == key)


def question_named(data, key):
    return next(q for q in data["check_in"]["questions"] if q["key"] == key)


def option_named(data, question, key):
    return next(o for o in question_named(data, question)["options"] if o["key"] == key)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: sign_named(d, "fever").update(urgency="soon"), "signs[5].urgency: 'soon' is not one of emergency, call_today, before_surgery"),
        (lambda d: sign_named(d, "fever").update(phase="always"), "signs[5].phase: 'always' is not one of preparation, recovery, both"),
        (lambda d: sign_named(d, "cold-or-flu").update(phase="both"), "signs[11].phase: a sign to call about before coming in belongs to the preparation only"),
        (lambda d: sign_named(d, "fever").pop("source_section"), "signs[5]: missing key(s) source_section"),
        (lambda d: sign_named(d, "fever").update(source_section="General post-operative practice"),
         "signs[5].source_section: write it exactly as one of"),
        (lambda d: sign_named(d, "fever")["translations"]["es"].pop("text"), "signs[5].translations.es.text: must be non-empty text"),
        (lambda d: sign_named(d, "fever").pop("translations"), "signs[5].translations.es: is missing"),
        (lambda d: sign_named(d, "fever").update(colour="red"), "signs[5]: unknown key(s) colour"),
        (lambda d: sign_named(d, "calf-clot").update(key="fever"), "warning_signs.signs: duplicate sign key(s) fever"),
        (lambda d: d["warning_signs"]["urgencies"].pop("call_today"), "warning_signs.urgencies.call_today: is missing"),
        (lambda d: d["warning_signs"]["urgencies"].update(whenever={"action": "x"}), "warning_signs.urgencies: unknown key(s) whenever"),
        (lambda d: d["warning_signs"]["urgencies"]["emergency"]["translations"].pop("es"),
         "warning_signs.urgencies.emergency.translations.es: is missing"),
        (lambda d: d["warning_signs"].update(signs=[]), "warning_signs.signs: must be a non-empty list"),
        (lambda d: d.update(warning_signs=[{"key": "fever"}]), "warning_signs: must have exactly 'urgencies' and 'signs'"),
        (lambda d: option_named(d, "wound", "leaking")["signs"].append("wound-rot"),
         "check_in.questions[3].options[2].signs: 'wound-rot' is not a warning sign of this protocol"),
        (lambda d: option_named(d, "fever", "yes").update(signs=["fever-before-surgery"]),
         "check_in.questions[4].options[0].signs: fever-before-surgery is not a sign of the recovery"),
        (lambda d: option_named(d, "fever", "yes").update(signs="fever"), "check_in.questions[4].options[0].signs: must be a list"),
        (lambda d: option_named(d, "fever", "yes").update(signs=["fever", "fever"]), "options[0].signs: must not repeat a sign"),
        (lambda d: question_named(d, "fever")["options"].pop(), "check_in.questions[4].options: must list at least two answers"),
        (lambda d: option_named(d, "walking", "no").update(key="yes"), "check_in.questions[2].options: duplicate answer key(s) yes"),
        (lambda d: question_named(d, "walking")["translations"]["es"]["options"].pop("a-little"),
         "check_in.questions[2].translations.es.options: must translate every answer and no others"),
        (lambda d: question_named(d, "back-pain").update(max=0), "check_in.questions[0]: min (0) must be below max (0)"),
        (lambda d: question_named(d, "back-pain").update(kind="slider"), "check_in.questions[0].kind: 'slider' is not one of scale, choice"),
        (lambda d: question_named(d, "back-pain").update(options=[]), "check_in.questions[0]: unknown key(s) options"),
        (lambda d: question_named(d, "walking").pop("options"), "check_in.questions[2]: missing key(s) options"),
        (lambda d: question_named(d, "leg-pain").update(key="back-pain"), "check_in.questions: duplicate question key(s) back-pain"),
        (lambda d: d["check_in"].pop("all_clear"), "check_in: missing key(s) all_clear"),
        (lambda d: d["check_in"]["translations"]["es"].pop("intro"), "check_in.translations.es.intro: must be non-empty text"),
        (lambda d: d.pop("warning_signs"), "check_in.questions[3].options[1].signs: 'wound-infection' is not a warning sign"),
    ],
)
def test_signs_and_questions_that_do_not_fit_are_refused(mutate, message):
    data = copy.deepcopy(shipped_data())
    mutate(data)
    with pytest.raises(ProtocolFileError) as excinfo:
        parse_protocol(data, name="broken.yaml")
    assert message in str(excinfo.value)
    assert str(excinfo.value).startswith("broken.yaml")


def test_stored_sections_check_again_to_themselves(parsed):
    data = copy.deepcopy(shipped_data())
    data["warning_signs"] = copy.deepcopy(parsed["warning_signs"])
    data["check_in"] = copy.deepcopy(parsed["check_in"])
    again = parse_protocol(data)
    assert (again["warning_signs"], again["check_in"]) == (parsed["warning_signs"], parsed["check_in"])


def test_the_clinical_review_lists_what_the_guide_does_not_give():
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("protocol_review", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "mis-lumbar-fusion: 17 item(s) from general practice to review"
    listed = {line.split(" [")[0].strip() for line in lines[1:]}
    # The five steps of the night before and the day itself, and every sign but the wound's.
    assert {"tasks.eating-drinking-cutoff", "tasks.morning-medicines", "warning_signs.fever (call_today)",
            "warning_signs.cannot-pass-urine (emergency)"} <= listed
    assert "warning_signs.wound-infection (call_today)" not in listed
    assert not any(place.startswith("rules.") for place in listed)  # every rule is the guide's
