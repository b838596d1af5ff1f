from django.apps import AppConfig
from django.contrib.auth.signals import user_login_failed

from prepapp.sign_in_alerts import note_failed_sign_in


class PrepappConfig(AppConfig):
    name = "prepapp"
    verbose_name = "Patients and surgeries"

    def ready(self):
        user_login_failed.connect(note_failed_sign_in, dispatch_uid="prepapp.note_failed_sign_in")
