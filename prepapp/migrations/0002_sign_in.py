"""Sign-in that cannot be reused, and sessions that end.

Invitation codes are kept only as a keyed hash, with an expiry, and are spent by their first
use. A patient who had not signed in yet keeps the code they were given: it is hashed here
and works for INVITATION_CODE_TTL_DAYS from now. A code already used to sign in is spent.
Patient logins were named after their code ("patient-ab12cd34"); they get a random name.

Also the emailed single-use sign-in links, and each user's session generation ("sign out
everywhere").
"""

import secrets
from datetime import timedelta

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import prepapp.models


def hash_unspent_codes(apps, schema_editor):
    Patient = apps.get_model("prepapp", "Patient")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    expires_at = django.utils.timezone.now() + timedelta(days=settings.INVITATION_CODE_TTL_DAYS)
    for patient in Patient.objects.exclude(invitation_code=None).iterator():
        if patient.invitation_accepted_at is None:
            patient.invitation_code_hash = prepapp.models.invitation_code_digest(patient.invitation_code)
            patient.invitation_expires_at = expires_at
            patient.save(update_fields=["invitation_code_hash", "invitation_expires_at"])
        if patient.user_id:
            User.objects.filter(pk=patient.user_id, username=f"patient-{patient.invitation_code.lower()}").update(
                username=f"patient-{secrets.token_hex(8)}"
            )


def issue_new_codes(apps, schema_editor):
    # Going back: the old codes cannot be recovered from their hashes, so every patient gets a
    # new plain code, to be handed out again.
    Patient = apps.get_model("prepapp", "Patient")
    for patient in Patient.objects.iterator():
        patient.invitation_code = prepapp.models.new_invitation_code()
        patient.save(update_fields=["invitation_code"])


class Migration(migrations.Migration):

    dependencies = [
        ("prepapp", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="patient",
            name="invitation_code_hash",
            field=models.CharField(blank=True, editable=False, max_length=64, null=True, unique=True),
        ),
        migrations.AddField(
            model_name="patient",
            name="invitation_expires_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        # The plain code may be empty from here on, so that this migration can be undone.
        migrations.AlterField(
            model_name="patient",
            name="invitation_code",
            field=models.CharField(max_length=16, null=True),
        ),
        migrations.RunPython(hash_unspent_codes, issue_new_codes),
        migrations.RemoveField(model_name="patient", name="invitation_code"),
        migrations.CreateModel(
            name="SignInLink",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("token_hash", models.CharField(max_length=64, unique=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("expires_at", models.DateTimeField(db_index=True)),
                ("used_at", models.DateTimeField(blank=True, null=True)),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="sign_in_links",
                        to="prepapp.patient",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="SessionGeneration",
            fields=[
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="session_generation",
                        serialize=False,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                ("generation", models.PositiveIntegerField(default=0)),
                ("signed_out_everywhere_at", models.DateTimeField(blank=True, null=True)),
            ],
        ),
    ]
