"""The checklist in two parts for the phones (checklists.checklist_parts): the patient's small
state, revalidated with the checklist's validator, and the protocol version's texts, under an
address that names them, so that a phone keeps them for good.

The combined `me/checklist/` and `following/<id>/checklist/` stay for other clients (the API is
public and documented); the app reads these.
"""

from __future__ import annotations

import hashlib

from django.db import transaction
from django.urls import reverse
from django.utils import translation
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from checklists.checklist_parts import checklist_state, checklist_texts, texts_digest
from checklists.models import Checklist, ProtocolVersion
from checklists.payload_schema import ChecklistStateSerializer, ChecklistTextsSerializer
from checklists.selectors import checklist_current, protocol_version_read_by
from prepapp import caregivers
from prepapp.api.common import LANGUAGE_PARAMETER, conditional_answer
from prepapp.api.following import NO_CHECKLIST as NO_FOLLOWED_CHECKLIST
from prepapp.api.following import NOT_FOLLOWED, followed_link
from prepapp.api.my_checklist import NO_CHECKLIST, checklist_etag, release_fingerprint
from prepapp.api.safety import language_of
from prepapp.lib.conditional_get import PRIVATE_CACHE_ATTRIBUTE, client_has, not_modified, revalidate_privately
from prepapp.lib.response_cache import KeptBodyResponse, kept_body, kept_body_key
from prepapp.lib.schema import error_response
from prepapp.models import Patient
from prepapp.permissions import IsCaregiver, IsPatient, patient_of

NO_TEXTS = "No such texts: read the checklist again for its current texts' address."
# The texts under one address never change (the address names them): the phone keeps them for a
# year without asking. Private: they are answered to a signed-in reader only.
KEEP_FOR_GOOD = "private, max-age=31536000, immutable"


def texts_key(version: ProtocolVersion, language: str) -> str:
    """The last part of the texts' address: what they are (the version's words, the language, the code)."""
    parts = (release_fingerprint(), version.id, texts_digest(version, language), language)
    return hashlib.blake2b(repr(parts).encode(), digest_size=10).hexdigest()


def texts_url(version: ProtocolVersion, language: str) -> str:
    return reverse("checklist-texts", kwargs={
        "version_id": version.id, "language": language, "key": texts_key(version, language),
    })


def state_of(checklist: Checklist, *, language: str, health_facts: bool = True) -> dict:
    return checklist_state(checklist, language=language, health_facts=health_facts,
                           texts_url=texts_url(checklist.protocol_version, language))


@extend_schema(tags=["me"])
class MyChecklistStateView(APIView):
    """The signed-in patient's own part of their checklist: dates, statuses, answers, figures, the case.

    Each step names its words by its `key` in the texts at `texts_url` (fetched once per
    protocol version and language). Answers `304 Not Modified` to `If-None-Match` with the
    current ETag, as `me/checklist/` does.
    """

    permission_classes = [IsPatient]

    @extend_schema(
        operation_id="me_checklist_state_retrieve",
        parameters=[LANGUAGE_PARAMETER],
        responses={200: ChecklistStateSerializer, 304: None, 400: error_response("The language is not one of ours."),
                   404: error_response(NO_CHECKLIST)},
    )
    def get(self, request):
        patient = patient_of(request.user)
        language = language_of(request, patient)
        etag = checklist_etag(patient=patient, language=language, renderer=f"state-{request.accepted_renderer.format}",
                              request=request)
        if client_has(request, etag):
            return not_modified(etag)
        key = kept_body_key(request, etag)
        kept = kept_body(key)
        if kept is not None:
            return revalidate_privately(KeptBodyResponse(key=key, kept=kept), etag)
        checklist = checklist_current(patient)
        if checklist is None:
            raise NotFound(NO_CHECKLIST)
        return revalidate_privately(KeptBodyResponse(state_of(checklist, language=language), key=key), etag)


@extend_schema(tags=["following"])
class FollowedChecklistStateView(APIView):
    """A followed patient's own part of their checklist (health facts only if allowed), as the patient's phone reads it."""

    permission_classes = [IsCaregiver]

    @extend_schema(operation_id="following_checklist_state_retrieve", parameters=[LANGUAGE_PARAMETER],
                   responses={200: ChecklistStateSerializer, 304: None,
                              400: error_response("The language is not one of ours."),
                              404: error_response(f"{NOT_FOLLOWED} Or: {NO_FOLLOWED_CHECKLIST}")})
    def get(self, request, pk: int):
        link = followed_link(request, pk)
        language = language_of(request, link.patient)
        with transaction.atomic():
            checklist = checklist_current(link.patient)
            if checklist is None:
                raise NotFound(NO_FOLLOWED_CHECKLIST)
            caregivers.caregiver_read_record(link=link, request=request)
            payload = state_of(checklist, language=language, health_facts=link.sees_health_facts)
        return conditional_answer(request, payload)


@extend_schema(tags=["me"])
class ChecklistTextsView(APIView):
    """A protocol version's texts in a language: every step's words, by key, and the protocol's summary and stages.

    The address comes from a checklist state's `texts_url`; what is under it never changes, so it
    is sent to be kept for a year. An address whose texts have changed (a draft edited, a new
    release) is not found. Only a patient with a checklist on the version, or a caregiver
    following one, may read it.
    """

    permission_classes = [IsAuthenticated, IsPatient | IsCaregiver]

    @extend_schema(
        operation_id="checklist_texts_retrieve",
        parameters=[
            OpenApiParameter("language", str, OpenApiParameter.PATH, pattern=r"^[-a-zA-Z0-9_]+$",
                             description=f"One of {', '.join(Patient.Language.values)}."),
            OpenApiParameter("key", str, OpenApiParameter.PATH, pattern=r"^[-a-zA-Z0-9_]+$",
                             description="What the texts are, as the state's `texts_url` names them."),
        ],
        responses={200: ChecklistTextsSerializer, 404: error_response(NO_TEXTS)},
    )
    def get(self, request, version_id: int, language: str, key: str):
        if language not in Patient.Language.values:
            raise NotFound(NO_TEXTS)
        version = protocol_version_read_by(request.user, version_id)
        if version is None or texts_key(version, language) != key:
            raise NotFound(NO_TEXTS)
        with translation.override(language):
            response = Response(checklist_texts(version, language))
        response["Cache-Control"] = KEEP_FOR_GOOD
        setattr(response, PRIVATE_CACHE_ATTRIBUTE, True)
        return response
