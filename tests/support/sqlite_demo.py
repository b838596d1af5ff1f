"""Run by tests/test_sqlite_demo.py in a process of its own, on SQLite, as `make run` sets the product up.

Migrates, loads the demo, delivers the demo's due in-app reminders through the outbox, signs
the demo patient in with the invitation code and reads the checklist twice (the second time
"only if changed"). Prints one line of JSON with what it saw.
"""

import io
import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from prepapp.reminders import delivery, outbox  # noqa: E402
from prepapp.reminders.models import InboxMessage, Reminder  # noqa: E402

call_command("migrate", verbosity=0)
call_command("seed_demo", stdout=io.StringIO())
sent = 0


def deliver_inline(channel, ids, token):
    global sent
    if channel == Reminder.Channel.INAPP:
        sent += delivery.deliver_batch(ids=ids, token=token, channel=channel).sent


outbox.sweep(enqueue=deliver_inline)
client = Client(HTTP_HOST="127.0.0.1")
# As the browser sends it from the demo's own page (the sign-in refuses other origins).
joined = client.post("/api/v1/auth/invitation/", {"code": sys.argv[1]}, content_type="application/json",
                     HTTP_ORIGIN="http://127.0.0.1")
first = client.get("/api/v1/me/checklist/")
again = client.get("/api/v1/me/checklist/", HTTP_IF_NONE_MATCH=first.get("ETag", ""))
print(json.dumps({
    "sent": sent, "inbox": InboxMessage.objects.count(), "joined": joined.status_code,
    "checklist": first.status_code, "steps": first.json()["counts"]["total"] if first.status_code == 200 else 0,
    "again": again.status_code,
}))
