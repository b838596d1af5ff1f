"""Rules in force: what the patient keeps to from one day to another, never ticked off.

Worked out by checklists.safety.rules_in_force from the shipped protocol's rules, for a
patient on a given day; the guide's figures must reach the patient in both languages.
"""

import copy
from datetime import date, timedelta

import pytest
import yaml

from checklists import safety
from checklists.models import ProtocolVersion
from checklists.protocol_files import ProtocolFileError, parse_protocol, read_protocol_file, shipped_protocol_files

SURGERY = date(2027, 3, 15)
SMOKER_ON_NSAIDS = {
    "smoker": True, "takes_nsaids": True, "diabetic": False, "on_blood_thinners": False,
    "bone_density_concern": False, "heart_or_lung_condition": False,
}
NOTHING_KNOWN = {}
NO_RISK = {name: False for name in SMOKER_ON_NSAIDS}


@pytest.fixture(scope="module")
def parsed():
    return read_protocol_file(shipped_protocol_files()[0])


@pytest.fixture(scope="module")
def version(parsed):
    """The shipped version as it would be stored, without a database: the safety module is pure."""
    return ProtocolVersion(**{field: parsed[field] for field in ("translations", "rules", "warning_signs", "check_in")})


def in_force(version, day, facts=SMOKER_ON_NSAIDS, **kwargs):
    rules = safety.rules_in_force(
        version, surgery_date=SURGERY, today=SURGERY + timedelta(days=day), facts=facts, **kwargs
    )
    return {rule["key"]: rule for rule in rules}


def test_the_shipped_rules_and_their_spans(parsed):
    spans = {r["key"]: (r["start"], r["end"], r["until_lifted"], r["applies_if"]) for r in parsed["rules"]}
    assert spans == {
        "no-blt": (0, None, True, {}),
        "no-nsaids-before-surgery": (-10, -1, False, {"takes_nsaids": True}),  # from the NSAID stop day
        "no-nsaids-after-surgery": (0, None, True, {}),  # every fusion patient, at least 3 to 6 months
        "no-driving": (0, None, True, {}),
        "no-nicotine": (-42, None, True, {"smoker": True}),  # from the smoking stop day, the fusion period
    }
    for rule in parsed["rules"]:
        assert rule["source_section"], rule["key"]
        assert rule["translations"]["es"]["title"] and rule["translations"]["es"]["text"], rule["key"]


def test_five_days_before_surgery(version):
    rules = in_force(version, -5)
    assert set(rules) == {"no-nsaids-before-surgery", "no-nicotine"}
    nsaids = rules["no-nsaids-before-surgery"]
    assert (nsaids["start_date"], nsaids["end_date"]) == (date(2027, 3, 5), date(2027, 3, 14))
    assert "10 days" in nsaids["text"] and "ibuprofen, naproxen or aspirin" in nsaids["text"]
    assert nsaids["ending_soon"] is True  # four days left
    nicotine = rules["no-nicotine"]
    assert nicotine["start_date"] == SURGERY - timedelta(days=42)
    assert nicotine["end_date"] is None and nicotine["until_lifted"] is True and nicotine["ending_soon"] is False
    assert "6 weeks" in nicotine["text"] and "6 to 12 months" in nicotine["text"]
    assert all(rule["conditional"] is False for rule in rules.values())


def test_the_surgery_day_hands_the_nsaid_rule_over_to_everyone(version):
    assert set(in_force(version, -1, NO_RISK)) == set()
    assert set(in_force(version, 0, NO_RISK)) == {"no-blt", "no-nsaids-after-surgery", "no-driving"}
    assert "no-nsaids-before-surgery" in in_force(version, -1)
    assert "no-nsaids-before-surgery" not in in_force(version, 0)


@pytest.mark.parametrize("day", [20, 60, 120])
def test_after_surgery_the_lasting_rules_show_until_lifted(version, day):
    rules = in_force(version, day)
    assert set(rules) == {"no-blt", "no-nsaids-after-surgery", "no-driving", "no-nicotine"}
    for rule in rules.values():
        assert rule["end_date"] is None and rule["until_lifted"] is True and rule["ending_soon"] is False
        assert rule["start_date"] <= SURGERY + timedelta(days=day)
    blt = rules["no-blt"]["text"]
    assert "30 degrees" in blt and "5 to 10 pounds" in blt and "twist" in blt
    nsaids = rules["no-nsaids-after-surgery"]["text"]
    assert "at least 3 to 6 months" in nsaids and "acetaminophen (paracetamol)" in nsaids
    driving = rules["no-driving"]["text"]
    assert "2 to 4 weeks" in driving and "Never drive while you are taking an opioid" in driving


def test_on_day_120_the_nsaid_rule_still_shows(version):
    # Past the guide's 3 months, short of its 6: only the care team says when it ends.
    assert "no-nsaids-after-surgery" in in_force(version, 120, NO_RISK)
    assert "no-nsaids-after-surgery" in in_force(version, 400, NO_RISK)


def test_lifted_rules_no_longer_show(version):
    rules = in_force(version, 60, lifted_keys={"no-driving", "no-blt"})
    assert set(rules) == {"no-nsaids-after-surgery", "no-nicotine"}


def test_a_fact_not_known_yet_shows_the_rule_marked_conditional(version):
    rules = in_force(version, -5, NOTHING_KNOWN)
    assert set(rules) == {"no-nsaids-before-surgery", "no-nicotine"}
    assert rules["no-nicotine"]["conditional"] is True
    assert rules["no-nicotine"]["conditional_on"] == [{"fact": "smoker", "applies_when": True}]
    assert rules["no-nsaids-before-surgery"]["conditional_on"] == [{"fact": "takes_nsaids", "applies_when": True}]
    # A known "no" leaves them out.
    assert in_force(version, -5, NO_RISK) == {}


def test_before_a_rule_starts_it_does_not_show(version):
    assert in_force(version, -43) == {}
    assert set(in_force(version, -42)) == {"no-nicotine"}
    assert set(in_force(version, -11)) == {"no-nicotine"}
    assert set(in_force(version, -10)) == {"no-nicotine", "no-nsaids-before-surgery"}


def test_a_rule_with_an_end_is_ending_soon_in_its_last_week(version):
    assert in_force(version, -8)["no-nsaids-before-surgery"]["ending_soon"] is False  # 7 days left
    assert in_force(version, -7)["no-nsaids-before-surgery"]["ending_soon"] is True
    assert in_force(version, -1)["no-nsaids-before-surgery"]["ending_soon"] is True  # its last day


def test_the_rules_in_spanish_keep_the_figures(version):
    rules = in_force(version, 20, language="es")
    assert "30 grados" in rules["no-blt"]["text"] and "5 a 10 libras" in rules["no-blt"]["text"]
    assert "4,5 kg" in rules["no-blt"]["text"]
    assert "3 a 6 meses" in rules["no-nsaids-after-surgery"]["text"]
    assert "2 a 4 semanas" in rules["no-driving"]["text"]
    assert rules["no-driving"]["title"].startswith("No maneje")
    assert rules["no-blt"]["source_section"] == in_force(version, 20)["no-blt"]["source_section"]


def test_nothing_left_to_tick_off_for_a_lasting_rule(parsed):
    # The steps that were really rules are gone: nothing says "due today, tick it off" about them.
    keys = {task["key"] for task in parsed["tasks"]}
    assert not {"no-blt-recovery", "avoid-nsaids-after-surgery"} & keys
    # The one-off actions stay steps: practising the rules before surgery, checking before driving.
    assert {"no-blt-practice", "driving-again", "stop-nsaids", "stop-smoking"} <= keys


def test_the_stages_name_the_rules_they_are_about(parsed):
    stages = {stage["key"]: stage["rules"] for stage in parsed["recovery_stages"]}
    assert stages["first-days"] == ["no-blt"]
    assert stages["weeks-3-6"] == ["no-driving"]
    assert stages["months-3-6"] == ["no-nsaids-after-surgery"]


def test_stored_on_the_version_with_localized_texts(protocol_version):
    rule = next(r for r in protocol_version.rules if r["key"] == "no-blt")
    assert protocol_version.localized_rule(rule, "es")["title"].startswith("No doblarse")
    assert protocol_version.localized_rule(rule, "en")["title"].startswith("No bending")
    assert protocol_version.localized_rule(rule, "fr") == protocol_version.localized_rule(rule, "")
    rules = safety.rules_in_force(
        protocol_version, surgery_date=SURGERY, today=SURGERY + timedelta(days=20), facts={}, language="es"
    )
    assert [r["key"] for r in rules] == ["no-blt", "no-nsaids-after-surgery", "no-driving", "no-nicotine"]


# --- What the file may not say ---------------------------------------------------------------


def shipped_data():
    return yaml.safe_load(shipped_protocol_files()[0].read_text())


def rule_named(data, key):
    return next(r for r in data["rules"] if r["key"] == key)


def stage_named(data, key):
    return next(s for s in data["recovery_stages"] if s["key"] == key)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: rule_named(d, "no-blt").update(end=30), "rules[0]: has both an end and until_lifted"),
        (lambda d: rule_named(d, "no-blt").pop("until_lifted"), "rules[0]: needs an end (a day from surgery) or until_lifted"),
        (lambda d: rule_named(d, "no-blt").update(until_lifted="yes"), "rules[0].until_lifted: must be true or false"),
        (lambda d: rule_named(d, "no-nsaids-before-surgery").update(end=-20), "rules[1].end: -20 is before the start (-10)"),
        (lambda d: rule_named(d, "no-nsaids-before-surgery").update(end="surgery"), "rules[1].end: must be a whole number"),
        (lambda d: rule_named(d, "no-blt").update(start="day one"), "rules[0].start: must be a whole number"),
        (lambda d: rule_named(d, "no-blt").pop("source_section"), "rules[0]: missing key(s) source_section"),
        (lambda d: rule_named(d, "no-blt").update(done=True), "rules[0]: unknown key(s) done"),
        (lambda d: rule_named(d, "no-blt").update(text=" "), "rules[0].text: must be non-empty text"),
        (lambda d: rule_named(d, "no-nicotine").update(applies_if={"vegan": True}), "rules[4].applies_if.vegan: unknown fact"),
        (lambda d: rule_named(d, "no-nicotine").update(applies_if={"smoker": "yes"}), "rules[4].applies_if.smoker: must be true or false"),
        (lambda d: rule_named(d, "no-blt").pop("translations"), "rules[0].translations.es: is missing"),
        (lambda d: rule_named(d, "no-blt")["translations"]["es"].pop("text"), "rules[0].translations.es.text: must be non-empty text"),
        (lambda d: rule_named(d, "no-blt")["translations"].update(fr={"title": "x", "text": "y"}), "rules[0].translations: unknown key(s) fr"),
        (lambda d: rule_named(d, "no-driving").update(key="no-blt"), "rules: duplicate rule key(s) no-blt"),
        (lambda d: d.update(rules={"no-blt": {}}), "rules: must be a list"),
        (lambda d: stage_named(d, "first-days")["rules"].append("no-flying"), "recovery_stages[0].rules: 'no-flying' is not a rule"),
        (lambda d: stage_named(d, "first-days")["rules"].append("no-nsaids-before-surgery"),
         "recovery_stages[0].rules: no-nsaids-before-surgery (days -10 to -1) is not in force on the stage's days 1 to 2"),
        (lambda d: stage_named(d, "first-days").update(rules="no-blt"), "recovery_stages[0].rules: must be a list of rule keys"),
    ],
)
def test_rules_that_do_not_fit_are_refused(mutate, message):
    data = copy.deepcopy(shipped_data())
    mutate(data)
    with pytest.raises(ProtocolFileError) as excinfo:
        parse_protocol(data, name="broken.yaml")
    assert message in str(excinfo.value)
    assert str(excinfo.value).startswith("broken.yaml")


def test_a_stored_rule_checks_again_to_itself(parsed):
    # Drafts are checked again from what the version stores: the stored form is a valid file form.
    data = copy.deepcopy(shipped_data())
    data["rules"] = copy.deepcopy(parsed["rules"])
    assert parse_protocol(data)["rules"] == parsed["rules"]
