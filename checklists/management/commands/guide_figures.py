"""Print the figures of the guide: every number it writes, one per line, in canonical form.

    python manage.py guide_figures GUIDE [MORE ...] > checklists/protocols/guide_figures.txt

The figure file lets the tests check that every number in the protocol's texts, in every
language, is one the guide gives (or a general-practice figure the tests list with its reason),
without the guide's own text being kept in the repository. Numbers are read the same way on
both sides (checklists.protocol_files.figures; the guide is in English).
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from checklists.protocol_files import figures


class Command(BaseCommand):
    help = "Print the sorted, de-duplicated figures (numbers) of one or more guides, one per line."

    def add_arguments(self, parser):
        parser.add_argument("guides", nargs="+", help="The guides as plain-text files.")

    def handle(self, *args, guides, **options):
        found = set()
        for guide in guides:
            try:
                found |= figures(Path(guide).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"cannot read the guide: {exc}") from exc
        if not found:
            raise CommandError("the guide has no figures")
        self.stdout.write("\n".join(sorted(found, key=lambda n: (float(n), n))))
