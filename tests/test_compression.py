"""JSON reads are gzipped on the wire when the client accepts it; answers to POSTs never are (BREACH)."""

import gzip
import json

import pytest

from .support.fixtures import signed_in_phone

pytestmark = pytest.mark.django_db
CHECKLIST = "/api/v1/me/checklist/"


@pytest.fixture
def pat_phone(pat, pat_checklist):
    return signed_in_phone(pat)


def test_the_checklist_goes_out_gzipped_and_reads_the_same(pat_phone):
    plain = pat_phone.get(CHECKLIST)
    packed = pat_phone.get(CHECKLIST, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain
    assert packed["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed["Vary"]
    assert json.loads(gzip.decompress(packed.content)) == plain.json()
    # 30-odd steps of JSON: the wire carries a fraction of it.
    assert len(packed.content) < len(plain.content) / 3
    # The validator still works, compressed or not.
    again = pat_phone.get(CHECKLIST, HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=packed["ETag"])
    assert again.status_code == 304 and again.content == b""


def test_staff_reads_are_gzipped_too(pat, pat_checklist, as_carol):
    answer = as_carol.get("/api/v1/roster/", HTTP_ACCEPT_ENCODING="gzip")
    assert answer.status_code == 200 and answer["Content-Encoding"] == "gzip"


def test_answers_to_posts_are_never_gzipped_they_may_carry_a_credential(pat, as_carol):
    # Issuing an invitation code: a secret in the body, next to what the caller sent.
    answer = as_carol.post(f"/api/v1/patients/{pat.id}/invitation/", HTTP_ACCEPT_ENCODING="gzip")
    assert answer.status_code in (200, 201), answer.content
    assert "Content-Encoding" not in answer
    assert answer.json()


def test_html_pages_are_left_alone(client):
    page = client.get("/coordinator/login/", HTTP_ACCEPT_ENCODING="gzip")
    assert page.status_code == 200 and "Content-Encoding" not in page
