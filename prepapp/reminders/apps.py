from django.apps import AppConfig


class RemindersConfig(AppConfig):
    name = "prepapp.reminders"
    label = "reminders"
    verbose_name = "Reminders"
