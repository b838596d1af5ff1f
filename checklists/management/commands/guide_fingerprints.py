"""Print the fingerprints of a guide: one truncated sha256 per run of twelve consecutive words.

    python manage.py guide_fingerprints PATH_TO_GUIDE > checklists/protocols/guide_fingerprints.txt

The fingerprint file lets the tests check that no protocol text copies twelve or more words
of the guide in a row, without the guide's own text being kept in the repository. The words
are normalised the same way on both sides (checklists.protocol_files.fingerprints).
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from checklists.protocol_files import fingerprints


class Command(BaseCommand):
    help = "Print the sorted, de-duplicated 12-word fingerprints of a guide's text (one per line)."

    def add_arguments(self, parser):
        parser.add_argument("guide", help="The guide as a plain-text file.")

    def handle(self, *args, guide, **options):
        try:
            text = Path(guide).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read the guide: {exc}") from exc
        found = sorted(fingerprints(text))
        if not found:
            raise CommandError("the guide has fewer than twelve words: nothing to fingerprint")
        self.stdout.write("\n".join(found))
