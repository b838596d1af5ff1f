"""List what a clinical lead must review in the protocol files: every text the guide does not give.

    python manage.py protocol_review [FILE ...]

Steps, rules and warning signs whose source_section is general practice ("general
post-operative practice", "general pre-operative practice") rather than a section of the
guide, one per line with its place and its English text, so the lead reads each of them
before the protocol reaches patients.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from checklists.protocol_files import GENERAL_PRACTICE, ProtocolFileError, read_protocol_file, shipped_protocol_files


def items_to_review(parsed: dict) -> list[tuple[str, str, str]]:
    """(place, source, text) of each step, rule and warning sign the guide does not give, in file order."""
    found = [
        (f"tasks.{task['key']}", task["source_section"], task["title"])
        for task in parsed["tasks"] if task["source_section"] in GENERAL_PRACTICE
    ]
    found += [
        (f"rules.{rule['key']}", rule["source_section"], rule["title"])
        for rule in parsed["rules"] if rule["source_section"] in GENERAL_PRACTICE
    ]
    found += [
        (f"warning_signs.{sign['key']} ({sign['urgency']})", sign["source_section"], sign["text"])
        for sign in (parsed["warning_signs"] or {}).get("signs", []) if sign["source_section"] in GENERAL_PRACTICE
    ]
    return found


class Command(BaseCommand):
    help = "List the steps, rules and warning signs that come from general practice, for clinical review."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="*", help="Protocol files to read instead of the shipped ones.")

    def handle(self, *args, files, **options):
        for path in [Path(f) for f in files] or shipped_protocol_files():
            try:
                parsed = read_protocol_file(path)
            except (ProtocolFileError, OSError) as exc:
                raise CommandError(str(exc)) from exc
            found = items_to_review(parsed)
            self.stdout.write(f"{parsed['key']}: {len(found)} item(s) from general practice to review")
            for place, source, text in found:
                self.stdout.write(f"  {place} [{source}]: {text}")
