from django.apps import AppConfig
from django.db.models.signals import post_migrate

from checklists.plan_revision import ensure_sqlite_triggers


class ChecklistsConfig(AppConfig):
    name = "checklists"
    verbose_name = "Protocols and checklists"

    def ready(self):
        post_migrate.connect(ensure_sqlite_triggers, sender=self, dispatch_uid="checklists.plan_revision")
