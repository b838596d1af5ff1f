"""Create (or bring up to date) the staff groups the admin relies on, after every migrate."""

from django.core.management.base import BaseCommand

from prepapp.admin_scoping import CLINICAL_LEAD_GROUP, clinical_lead_group


class Command(BaseCommand):
    help = 'Create or update the "Clinical lead" group with the permissions a clinical lead needs in the admin.'

    def handle(self, *args, **options):
        group = clinical_lead_group()
        self.stdout.write(f"{CLINICAL_LEAD_GROUP}: {group.permissions.count()} permissions")
