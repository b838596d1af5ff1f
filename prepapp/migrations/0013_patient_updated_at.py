import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("prepapp", "0012_audit_trail_refuses_truncate")]

    operations = [
        migrations.AddField(
            model_name="patient",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
    ]
