"""No protocol text copies the guide: no run of twelve consecutive words is taken from it.

The guide's own text is not kept in the repository. `manage.py guide_fingerprints` turns it
into checklists/protocols/guide_fingerprints.txt: one truncated sha256 per run of twelve
words, after normalising (lower case, words are runs of letters or digits, apostrophes
dropped). The same function fingerprints every text of the protocol file here.
"""

import io
import re

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from checklists.protocol_files import PROTOCOLS_DIR, fingerprints, shipped_protocol_files, text_words

FINGERPRINT_FILE = PROTOCOLS_DIR / "guide_fingerprints.txt"


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
    for field in ("source_section", "instructions", "why", "lead_reason", "label", "summary", "procedure"):
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
