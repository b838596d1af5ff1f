"""No protocol text copies the guide, and every figure in it is the guide's.

The guide's own text is not kept in the repository. `manage.py guide_fingerprints` turns the
seed documents (the long guide and the short overview) into
checklists/protocols/guide_fingerprints.txt: one truncated sha256 per run of twelve words,
after normalising (lower case, words are runs of letters or digits, apostrophes dropped). The
same function fingerprints every text of the protocol file here: no run of twelve consecutive
words is taken from them.

`manage.py guide_figures` lists the numbers the guide writes in
checklists/protocols/guide_figures.txt. Every number in every text of the protocol file, in
English and in Spanish, is one of them or a figure listed below with the reason it is not the
guide's; and each Spanish text gives the same figures as the English it translates.
"""

import io
import re

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from checklists.protocol_files import PROTOCOLS_DIR, figures, fingerprints, shipped_protocol_files, text_words

FINGERPRINT_FILE = PROTOCOLS_DIR / "guide_fingerprints.txt"
FIGURE_FILE = PROTOCOLS_DIR / "guide_figures.txt"

# Figures the protocol writes that the guide does not, each with its reason. A clinical lead
# reviews the general-practice ones with the texts marked "general post-operative practice".
FIGURES_NOT_IN_THE_GUIDE = {
    "0": "the 0 to 10 pain scale of the check-in (general practice)",
    "38": "fever at 38 °C or higher (general post-operative practice; the guide gives no figure)",
    "100.4": "the same fever threshold in °F (general post-operative practice)",
    "4.5": "the guide's 10 pounds in kilograms, beside its 5 to 10 pounds",
}


def guide_fingerprints() -> set[str]:
    return set(FINGERPRINT_FILE.read_text().split())


def texts_in(node, where=""):
    """Every text in a parsed YAML document (keys and values, every language), with its place."""
    if isinstance(node, str):
        yield where, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from texts_in(key, f"{where}.{key}(key)")
            yield from texts_in(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from texts_in(value, f"{where}[{i}]")


def shipped_texts():
    for path in shipped_protocol_files():
        yield from texts_in(yaml.safe_load(path.read_text(encoding="utf-8")), path.name)


def test_the_fingerprint_file_is_plausible():
    lines = FINGERPRINT_FILE.read_text().splitlines()
    # The guide runs to thousands of words, so thousands of twelve-word runs.
    assert 3000 <= len(lines) <= 20000
    assert lines == sorted(set(lines)), "sorted and de-duplicated"
    assert all(re.fullmatch(r"[0-9a-f]{16}", line) for line in lines)


def test_no_protocol_text_copies_twelve_words_of_the_guide():
    guide = guide_fingerprints()
    copied = [where for where, text in shipped_texts() if fingerprints(text) & guide]
    assert copied == [], f"these texts copy 12 or more consecutive words of the guide: {copied}"


def test_the_check_catches_a_copied_run(tmp_path):
    # A stand-in "guide", fingerprinted by the command exactly as the real one was.
    guide = tmp_path / "guide.txt"
    guide.write_text(
        "Patients who don't rest enough after the operation often find that the first "
        "fortnight of their recovery feels slower and more tiring than expected.\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    call_command("guide_fingerprints", str(guide), stdout=out)
    printed = set(out.getvalue().split())
    assert len(printed) == len(text_words(guide.read_text())) - 11

    # Twelve words lifted from it, with different case, punctuation and apostrophes, are caught.
    copied = "NOTE: patients who dont rest enough, after the operation, often find that the FIRST fortnight!"
    assert fingerprints(copied) & printed
    # Eleven of them are not a copy; the same words reworded are not either.
    assert not fingerprints("patients who don't rest enough after the operation often find that") & printed
    assert not fingerprints("after surgery, resting too little tends to make the first two weeks feel slow") & printed


def test_normalising_words():
    assert text_words("Don’t lift >10 lb; bend ≤30°, MIS-TLIF") == ["dont", "lift", "10", "lb", "bend", "30", "mis", "tlif"]
    assert text_words("Deje de tomar ibuprofeno: ¡ahora!") == ["deje", "de", "tomar", "ibuprofeno", "ahora"]


def test_the_command_refuses_what_it_cannot_read(tmp_path):
    with pytest.raises(CommandError, match="cannot read the guide"):
        call_command("guide_fingerprints", str(tmp_path / "missing.txt"), stdout=io.StringIO())
    short = tmp_path / "short.txt"
    short.write_text("too short to fingerprint")
    with pytest.raises(CommandError, match="fewer than twelve words"):
        call_command("guide_fingerprints", str(short), stdout=io.StringIO())


def spanish_texts():
    for where, text in shipped_texts():
        if ".translations.es" in where:
            yield where, text


def guide_figures() -> set[str]:
    return set(FIGURE_FILE.read_text().split())


def is_spanish(where: str) -> bool:
    return ".translations.es" in where


def test_the_figure_file_is_plausible():
    lines = FIGURE_FILE.read_text().splitlines()
    assert lines == sorted(set(lines), key=lambda n: (float(n), n)), "sorted by value and de-duplicated"
    assert all(re.fullmatch(r"\d+(\.\d+)?", line) for line in lines), "canonical: no separators, a decimal point"
    # The figures the protocol is built on.
    assert {"1.2", "1.6", "1200", "2000", "30", "5", "10", "3", "6", "12", "4", "8", "7", "24"} <= set(lines)


def test_every_number_in_both_languages_comes_from_the_guide():
    known = guide_figures() | set(FIGURES_NOT_IN_THE_GUIDE)
    found = list(shipped_texts())
    unknown = {
        where: sorted(figures(text, decimal_comma=is_spanish(where)) - known)
        for where, text in found
        if figures(text, decimal_comma=is_spanish(where)) - known
    }
    assert unknown == {}, f"numbers neither in the guide nor listed as general practice: {unknown}"
    # The listed figures are all used (a figure no longer written leaves the list).
    used = set().union(*(figures(text, decimal_comma=is_spanish(where)) for where, text in found))
    assert set(FIGURES_NOT_IN_THE_GUIDE) <= used
    assert not set(FIGURES_NOT_IN_THE_GUIDE) & guide_figures()


def translated_pairs(node, where=""):
    """(place, English text, Spanish text) for every translated text of the file, sub-items and options included."""
    if isinstance(node, list):
        for i, value in enumerate(node):
            yield from translated_pairs(value, f"{where}[{i}]")
        return
    if not isinstance(node, dict):
        return
    spanish = (node.get("translations") or {}).get("es") or {}
    for field, text in spanish.items():
        english = node.get(field)
        if isinstance(text, str) and isinstance(english, str):
            yield f"{where}.{field}", english, text
        elif isinstance(text, dict) and isinstance(english, list):  # sub_items, targets, options: by key
            for item in english:
                base = item.get("text", item.get("label"))
                if item.get("key") in text and isinstance(base, str):
                    yield f"{where}.{field}.{item['key']}", base, text[item["key"]]
    for key, value in node.items():
        if key != "translations":
            yield from translated_pairs(value, f"{where}.{key}")


def test_each_spanish_text_gives_the_figures_of_its_english():
    data = yaml.safe_load(shipped_protocol_files()[0].read_text(encoding="utf-8"))
    pairs = list(translated_pairs(data, "f"))
    assert len(pairs) > 150
    # Every kind of translated text is compared, the new sections' included.
    for place in (".rules[0].text", ".signs[5].text", ".urgencies.emergency.action", ".questions[0].text",
                  ".options.leaking", ".stop_today", ".sub_items.restart-day", ".targets.protein", ".label"):
        assert any(place in where for where, _, _ in pairs), place
    different = {
        where: (sorted(figures(en)), sorted(figures(es, decimal_comma=True)))
        for where, en, es in pairs
        if figures(en) != figures(es, decimal_comma=True)
    }
    assert different == {}, f"a translation with other figures than its English: {different}"


def test_reading_figures():
    assert figures("1.2 to 1.6 g, at least 1,200 mg (or 1200), L4-L5, 38 °C / 100.4 °F") == {
        "1.2", "1.6", "1200", "4", "5", "38", "100.4"
    }
    assert figures("de 1,2 a 1,6 g, 1200 mg, 4,5 kg, 100,4 °F", decimal_comma=True) == {"1.2", "1.6", "1200", "4.5", "100.4"}


def test_the_figure_command(tmp_path):
    guide = tmp_path / "guide.txt"
    guide.write_text("Take 1,200 mg a day for 3 to 6 months; 1.2 g per kg; 10 pounds.\n", encoding="utf-8")
    out = io.StringIO()
    call_command("guide_figures", str(guide), stdout=out)
    assert out.getvalue().split() == ["1.2", "3", "6", "10", "1200"]
    with pytest.raises(CommandError, match="cannot read the guide"):
        call_command("guide_figures", str(tmp_path / "missing.txt"), stdout=io.StringIO())
    empty = tmp_path / "empty.txt"
    empty.write_text("no numbers at all")
    with pytest.raises(CommandError, match="no figures"):
        call_command("guide_figures", str(empty), stdout=io.StringIO())


def test_the_fingerprints_cover_every_seed_document(tmp_path):
    # Two documents: each one's runs are caught, and no run is made across the two.
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("one two three four five six seven eight nine ten eleven twelve", encoding="utf-8")
    second.write_text("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu", encoding="utf-8")
    out = io.StringIO()
    call_command("guide_fingerprints", str(first), str(second), stdout=out)
    printed = set(out.getvalue().split())
    assert printed == fingerprints(first.read_text()) | fingerprints(second.read_text())
    assert len(printed) == 2


def test_spanish_texts_write_numbers_the_spanish_way():
    """Decimal comma, thousands without a separator: "1,2 a 1,6", "1200 mg", never "1,200 mg"."""
    found = list(spanish_texts())
    assert len(found) > 50
    for where, text in found:
        assert not re.search(r"\d\.\d", text), f"{where}: decimal point in Spanish: {text!r}"
        assert not re.search(r"\d,\d{3}(?!\d)", text), f"{where}: '1,200' reads as 1.2 in Spanish: {text!r}"
        for english in ("pounds", " IU", "grams", "days", "weeks"):
            assert english not in text, f"{where}: untranslated unit {english.strip()!r}: {text!r}"


def english_texts():
    for where, text in shipped_texts():
        if ".translations." not in where:
            yield where, text


def test_english_texts_write_numbers_the_english_way():
    """Decimal point, four-digit figures without a separator: "1.2 to 1.6", "1200 mg", never "1,200 mg".

    "1,200 mg" is one point two milligrams to a reader used to a decimal comma, and the same
    patient may read both languages: both write four-digit figures plainly (the app groups
    figures from five digits, in each language's way).
    """
    found = list(english_texts())
    assert len(found) > 100
    wheres = {where for where, _ in found}
    # Every kind of text is looked at, the guide-section names included.
    for field in ("source_section", "instructions", "why", "lead_reason", "label", "summary", "procedure",
                  "title", "text", "action", "intro", "all_clear", "stop_today"):
        assert any(where.endswith(f".{field}") for where in wheres), field
    for where, text in found:
        assert not re.search(r"(?<![\d,])\d,\d{3}(?!\d)", text), f"{where}: write '1200', not '1,200': {text!r}"
        assert not re.search(r"\d,\d{1,2}(?!\d)", text), f"{where}: decimal comma in English: {text!r}"
        for spanish in (" UI", "gramos", "libras", "días", "semanas"):
            assert spanish not in text, f"{where}: Spanish word {spanish.strip()!r} in English: {text!r}"


def test_every_text_of_the_file_is_fingerprinted_section_names_included():
    """The twelve-word check reads every string of the file, whatever its key: a new field is covered too."""
    data = yaml.safe_load(shipped_protocol_files()[0].read_text(encoding="utf-8"))
    places = {where for where, _ in texts_in(data, "f")}
    for i, task in enumerate(data["tasks"]):
        for key, value in task.items():
            if isinstance(value, str):
                assert f"f.tasks[{i}].{key}" in places, (task["key"], key)
    assert any(".recovery_stages[" in where and where.endswith(".label") for where in places)
    assert "f.translations.es.procedure" in places
    # The safety sections, every text in both languages.
    for i, rule in enumerate(data["rules"]):
        for field in ("title", "text", "source_section"):
            assert f"f.rules[{i}].{field}" in places, (rule["key"], field)
        assert f"f.rules[{i}].translations.es.text" in places
    for i, sign in enumerate(data["warning_signs"]["signs"]):
        assert {f"f.warning_signs.signs[{i}].text", f"f.warning_signs.signs[{i}].translations.es.text"} <= places
    for urgency in ("emergency", "call_today", "before_surgery"):
        assert f"f.warning_signs.urgencies.{urgency}.translations.es.action" in places
    for i, question in enumerate(data["check_in"]["questions"]):
        assert f"f.check_in.questions[{i}].translations.es.text" in places
        for j, _ in enumerate(question.get("options", [])):
            assert f"f.check_in.questions[{i}].options[{j}].text" in places
    assert {"f.check_in.intro", "f.check_in.translations.es.all_clear"} <= places
