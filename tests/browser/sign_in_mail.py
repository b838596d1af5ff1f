"""Rosa, a patient 30 days before surgery, and the sign-in link in the newest email: shared by the browser tests of sign-in links."""

import re
import time

import pytest

from prepapp.services import patient_enrol
from prepapp.workflows import case_book, checklist_assign

from ..factories import days_from_today


@pytest.fixture
def rosa(riverside, carol, protocol_version):
    patient = patient_enrol(
        organization=riverside, full_name="Rosa Alvarez", contact_email="rosa@example.org", time_zone="America/New_York"
    )
    case = case_book(patient=patient, procedure="Minimally invasive lumbar fusion", surgery_date=days_from_today(30))
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    return patient


def link_in_mail(sink, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while not sink.received() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sink.received(), "no email arrived"
    found = re.search(r"(http://\S+/signin/#[A-Za-z0-9_-]+)\s", sink.received()[-1].get_content())
    assert found
    return found.group(1)
