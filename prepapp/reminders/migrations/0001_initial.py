"""The reminder engine's tables, now in an app of their own.

A database made before this app existed already has them, as prepapp_pushsubscription,
prepapp_reminder, prepapp_deliveryattempt and prepapp_inboxmessage, with every row: those
are renamed and kept. A new database gets them created. Either way the state is the same.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

# In the order their foreign keys need them.
ENGINE_MODELS = ["PushSubscription", "Reminder", "DeliveryAttempt", "InboxMessage"]


def adopt_or_create_tables(apps, schema_editor):
    existing = set(schema_editor.connection.introspection.table_names())
    for name in ENGINE_MODELS:
        model = apps.get_model("reminders", name)
        old_table = f"prepapp_{name.lower()}"
        if old_table in existing:
            schema_editor.alter_db_table(model, old_table, model._meta.db_table)
        else:
            schema_editor.create_model(model)
    # Permissions and admin history follow the models to their new app.
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="prepapp", model__in=[n.lower() for n in ENGINE_MODELS]).update(
        app_label="reminders"
    )


def hand_tables_back(apps, schema_editor):
    for name in reversed(ENGINE_MODELS):
        model = apps.get_model("reminders", name)
        schema_editor.alter_db_table(model, model._meta.db_table, f"prepapp_{name.lower()}")
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="reminders", model__in=[n.lower() for n in ENGINE_MODELS]).update(
        app_label="prepapp"
    )


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("prepapp", "0001_initial"),
        ("checklists", "0003_protocol_version_drafts"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='PushSubscription',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('endpoint', models.URLField(max_length=1000, unique=True)),
                        ('p256dh', models.CharField(max_length=200)),
                        ('auth', models.CharField(max_length=100)),
                        ('user_agent', models.CharField(blank=True, max_length=300)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('last_success_at', models.DateTimeField(blank=True, null=True)),
                        ('patient', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='push_subscriptions', to='prepapp.patient')),
                    ],
                ),
                migrations.CreateModel(
                    name='Reminder',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('rule', models.CharField(max_length=40)),
                        ('channel', models.CharField(choices=[('inapp', 'In the app'), ('email', 'Email'), ('push', 'Web Push')], max_length=10)),
                        ('anchor_date', models.DateField()),
                        ('send_at', models.DateTimeField()),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('sending', 'Sending'), ('sent', 'Sent'), ('failed', 'Failed'), ('cancelled', 'Cancelled'), ('skipped', 'Skipped')], default='pending', max_length=10)),
                        ('attempts', models.PositiveSmallIntegerField(default=0)),
                        ('claimed_at', models.DateTimeField(blank=True, null=True)),
                        ('sent_at', models.DateTimeField(blank=True, null=True)),
                        ('last_error', models.TextField(blank=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('patient', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='reminders', to='prepapp.patient')),
                        ('task', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='reminders', to='checklists.task')),
                    ],
                    options={
                        'ordering': ['send_at', 'id'],
                    },
                ),
                migrations.CreateModel(
                    name='InboxMessage',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('title', models.CharField(max_length=200)),
                        ('body', models.TextField()),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('read_at', models.DateTimeField(blank=True, null=True)),
                        ('task', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='checklists.task')),
                        ('patient', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='inbox', to='prepapp.patient')),
                        ('reminder', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='inbox_message', to='reminders.reminder')),
                    ],
                    options={
                        'ordering': ['-created_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='DeliveryAttempt',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('channel', models.CharField(choices=[('inapp', 'In the app'), ('email', 'Email'), ('push', 'Web Push')], max_length=10)),
                        ('outcome', models.CharField(choices=[('sent', 'Sent'), ('retry', 'Will retry'), ('failed', 'Failed'), ('skipped', 'Skipped')], max_length=10)),
                        ('detail', models.TextField(blank=True)),
                        ('at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('patient', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='delivery_attempts', to='prepapp.patient')),
                        ('reminder', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='delivery_attempts', to='reminders.reminder')),
                    ],
                    options={
                        'ordering': ['-at', '-id'],
                    },
                ),
                migrations.AddIndex(
                    model_name='reminder',
                    index=models.Index(condition=models.Q(('status', 'pending')), fields=['send_at'], name='reminder_pending_due_idx'),
                ),
                migrations.AddIndex(
                    model_name='reminder',
                    index=models.Index(condition=models.Q(('status', 'sending')), fields=['claimed_at'], name='reminder_sending_claimed_idx'),
                ),
                migrations.AddIndex(
                    model_name='reminder',
                    index=models.Index(fields=['patient', 'status'], name='prepapp_rem_patient_b1ccbe_idx'),
                ),
                migrations.AddConstraint(
                    model_name='reminder',
                    constraint=models.UniqueConstraint(fields=('task', 'rule', 'channel', 'anchor_date'), name='unique_reminder_per_task_rule_channel'),
                ),
                migrations.AddIndex(
                    model_name='inboxmessage',
                    index=models.Index(condition=models.Q(('read_at__isnull', True)), fields=['patient'], name='inbox_unread_idx'),
                ),
                migrations.AddIndex(
                    model_name='deliveryattempt',
                    index=models.Index(fields=['patient', '-at'], name='prepapp_del_patient_bc7a7a_idx'),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(adopt_or_create_tables, hand_tables_back),
    ]
