"""Names that say what they are: the unique key includes the anchor date; indexes named for their query."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("reminders", "0001_initial")]

    operations = [
        migrations.RemoveConstraint(model_name="reminder", name="unique_reminder_per_task_rule_channel"),
        migrations.AddConstraint(
            model_name="reminder",
            constraint=models.UniqueConstraint(
                fields=("task", "rule", "channel", "anchor_date"), name="unique_reminder_per_task_rule_channel_date"
            ),
        ),
        migrations.RenameIndex(
            model_name="reminder", new_name="reminder_patient_status_idx", old_name="prepapp_rem_patient_b1ccbe_idx"
        ),
        migrations.RenameIndex(
            model_name="deliveryattempt", new_name="delivery_patient_at_idx", old_name="prepapp_del_patient_bc7a7a_idx"
        ),
    ]
