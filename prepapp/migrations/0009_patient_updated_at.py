import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("prepapp", "0008_organization_safety_contacts_arrival_time")]

    operations = [
        migrations.AddField(
            model_name="patient",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
    ]
