"""Load the protocols the service ships; a new version is made only when a file's content changed."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from checklists.protocol_files import ProtocolFileError, read_protocol_file, shipped_protocol_files
from checklists.publishing import protocol_publish


class Command(BaseCommand):
    help = "Load the shipped protocol files (checklists/protocols/*.yaml), or the files given."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="*", help="Protocol files to load instead of the shipped ones.")

    def handle(self, *args, files, **options):
        paths = [Path(f) for f in files] or shipped_protocol_files()
        if not paths:
            raise CommandError("No protocol files found.")
        for path in paths:
            try:
                parsed = read_protocol_file(path)
            except (ProtocolFileError, OSError) as exc:
                raise CommandError(str(exc)) from exc
            version, created = protocol_publish(parsed=parsed, source=path.name)
            state = "new version" if created else "unchanged"
            self.stdout.write(f"{parsed['key']}: v{version.number} ({state}, {len(parsed['tasks'])} tasks)")
