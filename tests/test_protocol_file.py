"""The shipped protocol file: validation with clear errors, idempotent loading, immutable versions."""

import copy
import io
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from checklists.models import Protocol, ProtocolVersion, TaskDefinition
from checklists.protocol_files import ProtocolFileError, parse_protocol, read_protocol_file, shipped_protocol_files

SHIPPED = shipped_protocol_files()


def shipped_data():
    return yaml.safe_load(SHIPPED[0].read_text())


def test_the_shipped_protocol_is_valid():
    parsed = read_protocol_file(SHIPPED[0])
    assert parsed["key"] == "mis-lumbar-fusion"
    assert len(parsed["tasks"]) >= 16
    for task in parsed["tasks"]:
        assert task["source_section"], f"{task['key']} names no section of the guide"
        assert "es" in task["translations"], f"{task['key']} has no Spanish text"


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
    ],
)
def test_invalid_files_name_the_exact_place(mutate, message):
    data = copy.deepcopy(shipped_data())
    mutate(data)
    with pytest.raises(ProtocolFileError) as excinfo:
        parse_protocol(data, name="broken.yaml")
    assert message in str(excinfo.value)
    assert str(excinfo.value).startswith("broken.yaml")


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
