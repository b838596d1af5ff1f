"""Print the fingerprints of the guide: one truncated sha256 per run of twelve consecutive words.

    python manage.py guide_fingerprints GUIDE [MORE ...] > checklists/protocols/guide_fingerprints.txt

Give every source document the protocol was written from (the seeds' long guide and their
short overview of minimally invasive spine surgery): no text may copy any of them.

The fingerprint file lets the tests check that no protocol text copies twelve or more words
of the guide in a row, without the guide's own text being kept in the repository. The words
are normalised the same way on both sides (checklists.protocol_files.fingerprints).
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from checklists.protocol_files import fingerprints


class Command(BaseCommand):
    help = "Print the sorted, de-duplicated 12-word fingerprints of one or more guides' text (one per line)."

    def add_arguments(self, parser):
        parser.add_argument("guides", nargs="+", help="The guides as plain-text files.")

    def handle(self, *args, guides, **options):
        found = set()
        for guide in guides:
            try:
                text = Path(guide).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"cannot read the guide: {exc}") from exc
            # Runs never span two documents: each is fingerprinted on its own.
            found |= fingerprints(text)
        found = sorted(found)
        if not found:
            raise CommandError("the guide has fewer than twelve words: nothing to fingerprint")
        self.stdout.write("\n".join(found))
