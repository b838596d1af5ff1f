"""Clinical leads version protocols: copy into a draft, edit it in the admin, publish it.

Published versions never change, drafts are never assigned, and a patient's checklist keeps
the version it was built from.
"""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from checklists.models import ProtocolVersion, TaskDefinition
from checklists.publishing import protocol_version_draft, protocol_version_publish
from prepapp.workflows import checklist_assign

from .factories import days_from_today

pytestmark = pytest.mark.django_db


def test_a_draft_copies_every_step_and_is_not_assigned(protocol_version, pat_case, as_carol):
    draft = protocol_version_draft(version=protocol_version)
    assert (draft.number, draft.is_draft) == (2, True)
    assert list(draft.definitions.values_list("key", "offset_days", "title")) == list(
        protocol_version.definitions.values_list("key", "offset_days", "title")
    )
    # Coordinators still get the published version by default, and cannot pick the draft.
    assert protocol_version.protocol.latest_version() == protocol_version
    response = as_carol.post(f"/api/v1/cases/{pat_case.pk}/assign/", {"protocol": "mis-lumbar-fusion", "version": 2}, format="json")
    assert response.status_code == 400 and "version" in response.json()
    with pytest.raises(ValidationError):
        checklist_assign(case=pat_case, protocol_version=draft)


def test_publishing_makes_it_the_default_and_leaves_old_checklists_alone(protocol_version, pat_checklist, paul, as_carol):
    draft = protocol_version_draft(version=protocol_version)
    draft.definitions.filter(key="stop-nsaids").update(window_start_days=-14, offset_days=-14, title="Stop NSAIDs two weeks ahead")
    published = protocol_version_publish(version=draft)
    assert protocol_version.protocol.latest_version() == draft
    assert len(published.content_hash) == 64 and published.published_at is not None

    # pat's checklist was built from v1 and keeps its dates and words.
    nsaids = pat_checklist.tasks.select_related("definition").get(definition__key="stop-nsaids")
    assert nsaids.definition.version == protocol_version
    assert nsaids.due_date == pat_checklist.case.surgery_date - timedelta(days=10)

    # A new case gets v2.
    case = as_carol.post("/api/v1/cases/", {"patient": paul.pk, "procedure": "x", "surgery_date": str(days_from_today(60))}, format="json").json()
    response = as_carol.post(f"/api/v1/cases/{case['id']}/assign/", {"protocol": "mis-lumbar-fusion"}, format="json")
    assert response.status_code == 201
    assert response.json()["protocol"]["version"] == 2


def test_a_draft_with_a_broken_step_cannot_be_published(protocol_version):
    draft = protocol_version_draft(version=protocol_version)
    draft.definitions.filter(key="grab-bars").update(offset_days=-60)
    with pytest.raises(ValidationError, match="grab-bars: the due day -60 lies outside its window"):
        protocol_version_publish(version=draft)
    draft.refresh_from_db()
    assert draft.is_draft
    with pytest.raises(ValidationError, match="already published"):
        protocol_version_publish(version=protocol_version)


def test_in_the_admin_drafts_are_editable_and_published_versions_are_not(client, lead_admin, protocol_version):
    client.force_login(lead_admin)
    changelist = reverse("admin:checklists_protocolversion_changelist")
    response = client.post(changelist, {"action": "copy_as_draft", "_selected_action": [protocol_version.pk]})
    assert response.status_code == 302
    draft = ProtocolVersion.objects.get(number=2)
    step = draft.definitions.get(key="grab-bars")
    published_step = protocol_version.definitions.get(key="grab-bars")

    edit = reverse("admin:checklists_taskdefinition_change", args=[step.pk])
    form = client.get(edit).context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    data.update(title="Put up grab bars by the toilet and shower", version=draft.pk)
    for key in ("applies_if", "sub_items", "targets", "reminder_rules", "translations"):
        data[key] = form[key].value()
    response = client.post(edit, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    assert TaskDefinition.objects.get(pk=step.pk).title == "Put up grab bars by the toilet and shower"

    # The published step refuses the same edit.
    response = client.post(reverse("admin:checklists_taskdefinition_change", args=[published_step.pk]), data)
    assert response.status_code == 403
    assert TaskDefinition.objects.get(pk=published_step.pk).title == published_step.title

    response = client.post(changelist, {"action": "publish", "_selected_action": [draft.pk]})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert not draft.is_draft
    assert client.post(reverse("admin:checklists_taskdefinition_change", args=[step.pk]), data).status_code == 403


def test_an_unchanged_copy_has_the_fingerprint_of_its_file(protocol_version):
    # One fingerprint for file-loaded and admin-published versions: identical steps, identical hash.
    draft = protocol_version_draft(version=protocol_version)
    assert protocol_version_publish(version=draft).content_hash == protocol_version.content_hash


def test_a_drafts_texts_are_its_own_copy(protocol_version):
    """Editing a draft's stages or a step's translations in memory leaves the published version as it was."""
    before_stage = protocol_version.recovery_stages[0]["label"]
    first = protocol_version.definitions.order_by("position").first()
    draft = protocol_version_draft(version=protocol_version)
    draft.recovery_stages[0]["label"] = "changed in the draft"
    draft_step = draft.definitions.get(key=first.key)
    draft_step.translations.setdefault("es", {})["title"] = "cambiado"
    draft_step.save()
    assert protocol_version.recovery_stages[0]["label"] == before_stage
    assert type(protocol_version).objects.get(pk=protocol_version.pk).recovery_stages[0]["label"] == before_stage
    assert type(first).objects.get(pk=first.pk).translations.get("es", {}).get("title") != "cambiado"
