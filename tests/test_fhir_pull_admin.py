"""Pull mode in the admin: a clinical lead sets up a FHIR source, its token never shown back, and polls it now.

That the admin shows each organization only its own sources is checked with every other
admin in tests/test_admin_isolation.py.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from prepapp.fhir.models import FhirSource
from prepapp.lib.sealed import unseal
from prepapp.models import Patient

from .support.fhir_server import FhirServer
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


def test_poll_now_imports_and_says_what_it_did_or_why_it_failed(lead, ehr, riverside, mapping, settings):
    settings.FHIR_PULL_ALLOW_HTTP = True
    lead.post(reverse("admin:fhir_fhirsource_add"), add_form(ehr, riverside))
    source = FhirSource.objects.get()
    put(ehr, range(4))

    polled = lead.post(reverse("admin:fhir_fhirsource_changelist"),
                       {"action": "poll_now", "_selected_action": [source.pk]}, follow=True)

    [said] = [str(m) for m in polled.context["messages"] if str(m).startswith("Riverside EHR:")]
    assert "4 appointments read, 8 records created, 0 changed" in said
    assert Patient.objects.filter(organization=riverside).count() == 4
    assert "Working" in polled.content.decode()

    ehr.go_down()
    failed = lead.post(reverse("admin:fhir_fhirsource_changelist"),
                       {"action": "poll_now", "_selected_action": [source.pk]}, follow=True)
    [said] = [str(m) for m in failed.context["messages"] if str(m).startswith("Riverside EHR:")]
    assert "the poll failed and changed nothing: could not reach the server" in said
    assert "Failing: could not reach the server" in failed.content.decode()
