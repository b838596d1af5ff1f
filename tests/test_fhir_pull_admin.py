"""Pull mode in the admin: a clinical lead sets up a FHIR source, its token never shown back, and polls it now.

That the admin shows each organization only its own sources is checked with every other
admin in tests/test_admin_isolation.py.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from config.celery import app as celery_app

from prepapp.fhir.models import FhirSource
from prepapp.lib.sealed import unseal
from prepapp.models import Patient

from .support.fhir_server import FhirServer
from .support.processes import wait_until
from .support.stack import Stack, redis_url_from_env
from .test_fhir_pull import TOKEN, mapping, put  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def ehr():
    server = FhirServer(token=TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def lead(client, lead_admin):
    client.force_login(lead_admin)
    return client


def add_form(ehr, riverside, **changes):
    return {"organization": riverside.pk, "name": "Riverside EHR", "base_url": ehr.base_url, "enabled": "on",
            "token": TOKEN, **changes}


def test_a_lead_adds_a_source_whose_token_is_kept_sealed_and_never_shown(lead, ehr, riverside, settings):
    settings.FHIR_PULL_ALLOW_HTTP = True
    added = lead.post(reverse("admin:fhir_fhirsource_add"), add_form(ehr, riverside))
    assert added.status_code == 302, added.context["adminform"].form.errors
    source = FhirSource.objects.get(organization=riverside)
    assert TOKEN not in source.sealed_token and unseal(source.sealed_token) == TOKEN
    assert source.user.first_name == "Riverside EHR" and not source.user.has_usable_password()
    page = lead.get(reverse("admin:fhir_fhirsource_change", args=[source.pk])).content.decode()
    assert TOKEN not in page and source.sealed_token not in page
    assert "Not polled yet" in page

    # Saved again without a token: the one kept stays; "remove" removes it.
    change = {"name": "Riverside EHR", "base_url": ehr.base_url, "enabled": "on", "token": ""}
    assert lead.post(reverse("admin:fhir_fhirsource_change", args=[source.pk]), change).status_code == 302
    source.refresh_from_db()
    assert unseal(source.sealed_token) == TOKEN
    lead.post(reverse("admin:fhir_fhirsource_change", args=[source.pk]), {**change, "remove_token": "on"})
    source.refresh_from_db()
    assert source.sealed_token == ""


def test_a_plain_http_address_is_refused_naming_the_field(lead, ehr, riverside):
    refused = lead.post(reverse("admin:fhir_fhirsource_add"), add_form(ehr, riverside))
    assert refused.status_code == 200
    assert "https://" in " ".join(refused.context["adminform"].form.errors["base_url"])
    assert not FhirSource.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.integration
def test_poll_now_queues_a_poll_the_worker_runs_and_the_page_shows_what_it_did(
    lead, ehr, riverside, mapping, settings, tmp_path, monkeypatch
):
    # This process queues the poll where the stack's worker listens (each stack has its own queue).
    queue = f"test-poll-now-{uuid.uuid4().hex[:10]}"
    monkeypatch.setitem(celery_app.conf, "task_default_queue", queue)
    settings.FHIR_PULL_ALLOW_HTTP = True
    lead.post(reverse("admin:fhir_fhirsource_add"), add_form(ehr, riverside))
    source = FhirSource.objects.get()
    put(ehr, range(4))
    stack = Stack(tmp_path, redis_url=redis_url_from_env(), queue=queue, FHIR_PULL_ALLOW_HTTP="true")
    stack.worker()
    try:
        polled = lead.post(reverse("admin:fhir_fhirsource_changelist"),
                           {"action": "poll_now", "_selected_action": [source.pk]}, follow=True)
        [said] = [str(m) for m in polled.context["messages"] if str(m).startswith("Riverside EHR")]
        assert "is being polled" in said
        wait_until(lambda: FhirSource.objects.get().last_success_at is not None, timeout=60,
                   what="the worker to poll the source")
        page = lead.get(reverse("admin:fhir_fhirsource_change", args=[source.pk])).content.decode()
        assert "Working" in page and Patient.objects.filter(organization=riverside).count() == 4

        ehr.go_down()
        lead.post(reverse("admin:fhir_fhirsource_changelist"),
                  {"action": "poll_now", "_selected_action": [source.pk]})
        wait_until(lambda: FhirSource.objects.get().last_error_at is not None, timeout=60,
                   what="the failed poll to be noted")
    except AssertionError:
        print(stack.logs())
        raise
    finally:
        stack.stop()
    page = lead.get(reverse("admin:fhir_fhirsource_changelist")).content.decode()
    assert "Failing: could not reach the server" in page


def test_poll_now_leaves_a_source_another_poll_holds(lead, ehr, riverside, settings):
    settings.FHIR_PULL_ALLOW_HTTP = True
    lead.post(reverse("admin:fhir_fhirsource_add"), add_form(ehr, riverside))
    source = FhirSource.objects.get()
    FhirSource.objects.filter(pk=source.pk).update(claimed_until=timezone.now() + timedelta(minutes=5))
    answer = lead.post(reverse("admin:fhir_fhirsource_changelist"),
                       {"action": "poll_now", "_selected_action": [source.pk]}, follow=True)
    assert any("being polled right now" in str(m) for m in answer.context["messages"])
