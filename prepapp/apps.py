from django.apps import AppConfig


class PrepappConfig(AppConfig):
    name = "prepapp"
    verbose_name = "Patients and surgeries"
