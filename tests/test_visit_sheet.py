"""The visit sheet: one or two pages for the demo patients, with their questions and notes; who may print it."""

import io
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from pypdf import PdfReader

from checklists.models import Task
from prepapp.models import AuditEntry, Patient

from .conftest import client_for

pytestmark = pytest.mark.django_db
SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def pdf_of(response) -> PdfReader:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/pdf"
    return PdfReader(io.BytesIO(response.content))


def text_of(reader: PdfReader) -> str:
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


@pytest.fixture
def demo(db):
    call_command("seed_demo", stdout=io.StringIO())
    return {p.full_name: p for p in Patient.objects.all()}


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_the_demo_patients_sheet_is_one_or_two_pages_with_questions_and_notes(demo, paper, tmp_path):
    walter = demo["Walter Brooks"]
    questions = Task.objects.get(checklist__case__patient=walter, definition__key="surgeon-questions")
    questions.answers = {"q-stay": "Ask if my wife can stay the night", "q-volume": "Write the number here"}
    questions.save()
    plan = Task.objects.get(checklist__case__patient=walter, definition__key="blood-thinner-plan")
    plan.answers = {"last-dose": "Five days before", "who-decided": "Dr. Lee, cardiology"}
    plan.save()
    reader = pdf_of(client_for(walter.user).get(f"/api/v1/me/visit-sheet.pdf?paper={paper}"))
    width, height = float(reader.pages[0].mediabox.width), float(reader.pages[0].mediabox.height)
    assert (round(width), round(height)) == ((595, 842) if paper == "a4" else (612, 792))
    text = text_of(reader)
    for expected in ("Walter Brooks", "Will I go home the same day", "Ask if my wife can stay the night",
                     "Dr. Lee, cardiology", "Five days before", "+1 555 0100", "+1 555 0199", "Still to do"):
        assert expected in text, expected
    # The pages as pictures, to look at (and one kept for the docs).
    out = tmp_path / "sheet.pdf"
    out.write_bytes(client_for(walter.user).get(f"/api/v1/me/visit-sheet.pdf?paper={paper}").content)
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(out), str(tmp_path / "page")], check=True)  # nosec
    pages = sorted(tmp_path.glob("page*.png"))
    assert 1 <= len(pages) <= 2
    if paper == "letter":
        SHOTS.mkdir(exist_ok=True)
        (SHOTS / "visit-sheet-letter.png").write_bytes(pages[0].read_bytes())


def test_rosa_the_demo_patient_fits_too_and_in_spanish(demo):
    rosa = demo["Rosa Alvarez"]
    reader = pdf_of(client_for(rosa.user).get("/api/v1/me/visit-sheet.pdf?lang=es&paper=a4"))
    assert 1 <= len(reader.pages) <= 2
    text = text_of(reader)
    assert "Mis preguntas para el cirujano" in text
    assert "¿Me iré a casa el mismo día" in text


def test_the_care_team_prints_it_as_an_audited_read_and_outsiders_get_nothing(as_carol, as_olga, as_paul, pat_checklist,
                                                                              pat, carol):
    reader = pdf_of(as_carol.get(f"/api/v1/patients/{pat.pk}/visit-sheet.pdf"))
    assert "Pat Example" in text_of(reader)
    assert AuditEntry.objects.filter(patient=pat, actor=carol, action="read-visit-sheet").count() == 1
    assert as_olga.get(f"/api/v1/patients/{pat.pk}/visit-sheet.pdf").status_code == 404
    assert as_paul.get(f"/api/v1/patients/{pat.pk}/visit-sheet.pdf").status_code == 403
    assert as_carol.get("/api/v1/me/visit-sheet.pdf").status_code == 403
    # paul's own sheet is his, never pat's
    assert "Pat Example" not in text_of(pdf_of(as_paul.get("/api/v1/me/visit-sheet.pdf")))


def test_bad_paper_or_language_is_a_400_naming_the_field(as_pat, pat_checklist):
    response = as_pat.get("/api/v1/me/visit-sheet.pdf?paper=a3")
    assert response.status_code == 400 and "paper" in response.json()
    response = as_pat.get("/api/v1/me/visit-sheet.pdf?lang=fr")
    assert response.status_code == 400 and "lang" in response.json()


# --- The page that prints from the browser -------------------------------------------------------

def test_the_patient_prints_the_same_sheet_from_a_page_under_the_strict_policy(client, pat_checklist, pat):
    questions = Task.objects.get(checklist=pat_checklist, definition__key="surgeon-questions")
    questions.answers = {"q-stay": "Can my son stay with me?"}
    questions.save()
    client.force_login(pat.user)
    response = client.get("/visit-sheet/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    for expected in ("Pat Example", "My questions for the surgeon", "Can my son stay with me?", 'id="print-sheet"'):
        assert expected in page, expected
    # Letter for a patient in New York; the PDF link asks for the same language and paper.
    assert 'href="/api/v1/me/visit-sheet.pdf?lang=en&amp;paper=letter"' in page
    # The sheet's own styles run under the page's nonce, and the print button's script is a file of ours.
    policy = response["Content-Security-Policy"]
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'<style nonce="{nonce}">' in page
    assert "<script>" not in page and 'src="/static/frontend/visit_sheet/print' in page
    assert response["Cache-Control"] == "no-store"
    spanish = client.get("/visit-sheet/?lang=es&paper=a4").content.decode()
    assert "Mis preguntas para el cirujano" in spanish and "paper=a4" in spanish


def test_the_page_refuses_what_is_not_its_own(client, pat_checklist, carol):
    assert client.get("/visit-sheet/")["Location"] == "/"  # signed out: the app signs them in
    client.force_login(carol)
    assert client.get("/visit-sheet/").status_code == 403


def test_a_bad_paper_or_language_on_the_page_is_a_400_naming_it(client, pat_checklist, pat):
    client.force_login(pat.user)
    response = client.get("/visit-sheet/?paper=a3")
    assert response.status_code == 400 and response.content.decode().startswith("paper:")
    response = client.get("/visit-sheet/?lang=fr")
    assert response.status_code == 400 and response.content.decode().startswith("lang:")


def test_the_care_team_prints_the_page_as_an_audited_read(client, pat_checklist, pat, paul, carol, olga):
    client.force_login(carol)
    response = client.get(f"/coordinator/patients/{pat.pk}/visit-sheet/")
    assert response.status_code == 200 and "Pat Example" in response.content.decode()
    assert f'href="/api/v1/patients/{pat.pk}/visit-sheet.pdf?lang=en&amp;paper=letter"' in response.content.decode()
    assert AuditEntry.objects.filter(patient=pat, actor=carol, action="read-visit-sheet").count() == 1
    assert client.get(f"/coordinator/patients/{pat.pk}/visit-sheet/?paper=a3").status_code == 400
    assert AuditEntry.objects.filter(patient=pat, actor=carol, action="read-visit-sheet").count() == 1
    client.force_login(olga)
    assert client.get(f"/coordinator/patients/{pat.pk}/visit-sheet/").status_code == 404
    client.force_login(paul.user)
    assert client.get(f"/coordinator/patients/{pat.pk}/visit-sheet/").status_code == 403
