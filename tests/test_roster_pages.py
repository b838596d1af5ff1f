"""The coordinator pages as the server renders them: sign-in, scope, audit."""

import re

import pytest
from django.urls import reverse

from checklists.models import Task
from prepapp.models import AuditEntry

from .factories import UserFactory, days_from_today

PASSWORD = "correct horse battery"  # the factories' password


def sign_in(client, username):
    return client.post(reverse("coordinator:login"), {"username": username, "password": PASSWORD})


def test_carol_signs_in_and_lands_on_the_roster(client, carol, pat_checklist, paul):
    response = sign_in(client, "carol")
    assert response.status_code == 302
    assert response["Location"] == reverse("coordinator:roster")
    page = client.get(reverse("coordinator:roster"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Pat Example" in html and "Paul Other" in html
    assert reverse("coordinator:patient", args=[pat_checklist.case.patient_id]) in html


def test_staff_without_a_care_team_are_refused_at_sign_in(client, db):
    UserFactory(username="admin-only", is_staff=True)
    response = sign_in(client, "admin-only")
    assert response.status_code == 200
    assert "not part of a care team" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_wrong_password_is_refused(client, carol):
    response = client.post(reverse("coordinator:login"), {"username": "carol", "password": "nope"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    response = client.get(reverse("coordinator:roster"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("coordinator:login") + "?next=")


def test_a_signed_in_patient_is_refused(client, pat):
    client.force_login(pat.user)
    assert client.get(reverse("coordinator:roster")).status_code == 403
    assert client.get(reverse("coordinator:patient", args=[pat.pk])).status_code == 403


def test_olga_cannot_open_a_riverside_patient(client, olga, pat_checklist, pat):
    client.force_login(olga)
    assert client.get(reverse("coordinator:patient", args=[pat.pk])).status_code == 404
    roster = client.get(reverse("coordinator:roster")).content.decode()
    assert "Pat Example" not in roster
    assert not AuditEntry.objects.filter(patient=pat).exists()


def test_the_roster_and_opening_a_patient_are_both_audited(client, carol, pat_checklist, pat):
    client.force_login(carol)
    client.get(reverse("coordinator:roster"))
    listed = AuditEntry.objects.get()
    assert (listed.actor, listed.patient, listed.action) == (carol, pat, "list")
    page = client.get(reverse("coordinator:patient", args=[pat.pk]))
    assert page.status_code == 200
    # The invitation code was shown once, when it was issued; the page never shows it again.
    assert pat.invitation_code not in page.content.decode()
    entry = AuditEntry.objects.exclude(pk=listed.pk).get()
    assert (entry.actor, entry.patient, entry.action) == (carol, pat, "read")


@pytest.mark.parametrize(
    ("ordering", "expected", "direction"),
    [
        ("name", ["Pat Example", "Paul Other"], "ascending"),
        ("-name", ["Paul Other", "Pat Example"], "descending"),
        ("-overdue", ["Pat Example", "Paul Other"], "descending"),  # pat has a step overdue, paul none
        ("overdue", ["Paul Other", "Pat Example"], "ascending"),
        ("nonsense", ["Pat Example", "Paul Other"], "ascending"),  # unknown: the default, days to surgery
    ],
)
def test_the_roster_page_sorts_and_ignores_unknown_orderings(client, carol, pat, pat_checklist, paul, ordering,
                                                            expected, direction):
    Task.objects.filter(pk=pat_checklist.tasks.order_by("position").first().pk).update(
        due_date=days_from_today(-3, patient=pat)
    )
    client.force_login(carol)
    page = client.get(reverse("coordinator:roster"), {"ordering": ordering})
    assert page.status_code == 200
    html = page.content.decode()
    assert sorted(expected, key=html.index) == expected
    assert re.findall(r'aria-sort="(ascending|descending)"', html) == [direction]


def test_the_pages_are_translated(client, carol, pat):
    client.force_login(carol)
    page = client.get(reverse("coordinator:enrol"), HTTP_ACCEPT_LANGUAGE="es")
    assert page.status_code == 200
    assert page["Content-Language"] == "es"
    assert '<html lang="es">' in page.content.decode()


def test_the_roster_page_costs_the_same_queries_for_3_or_12_patients(client, carol, riverside, protocol_version):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from prepapp.workflows import checklist_assign
    from prepapp.services import patient_enrol
    from prepapp.workflows import case_book

    from .factories import days_from_today

    client.force_login(carol)

    def add(count):
        for i in range(count):
            patient = patient_enrol(organization=riverside, full_name=f"P{i}-{count}", time_zone="Europe/Madrid")
            case = case_book(patient=patient, procedure="Fusion", surgery_date=days_from_today(20 + i))
            checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)

    def measure():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("coordinator:roster"), {"ordering": "-overdue"}).status_code == 200
        return len(queries)

    add(3)
    small = measure()
    add(9)
    assert measure() == small
