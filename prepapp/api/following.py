"""The caregiver's side: the patients they follow, and per patient the plan, the safety card and ticking off.

Every read is audited under the caregiver's own account, so the patient's "who opened my
record" list names them; a tick is audited too, and the step shows who ticked it. Health
facts (notes, answers, figures from the weight) are left out unless the patient allows them.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from checklists.models import Task
from checklists.about import about_payload
from checklists.payload_schema import AboutSerializer, ChecklistSerializer, TaskSerializer
from checklists.payloads import checklist_payload, task_payload
from checklists.selectors import checklist_current
from prepapp import caregivers, workflows
from prepapp.api.caregivers import FollowedPatientSerializer
from prepapp.api.common import LANGUAGE_PARAMETER, conditional_answer
from prepapp.api.safety import language_of
from prepapp.api.safety_schema import SafetySerializer
from prepapp.lib.schema import error_response
from prepapp.models import CaregiverLink, CaregiverSettings, Patient
from prepapp.permissions import IsCaregiver
from prepapp.selectors import caregiver_links_followed
from prepapp.workflows import safety_payload

NOT_FOLLOWED = "You do not follow this patient."
NO_CHECKLIST = "No checklist has been assigned to this patient yet."
NO_TASK = "No such step in this patient's plan."
MAY_NOT_TICK = "The patient lets you see their steps, not tick them off."


def reader_language(request, link: CaregiverLink) -> str:
    """The caregiver reads the plan in their own language (their settings), unless ?lang= asks otherwise."""
    if not request.query_params.get("lang"):
        own = CaregiverSettings.objects.filter(user_id=link.caregiver_id).values_list("language", flat=True).first()
        if own in Patient.Language.values:
            return own
    return language_of(request, link.patient)


def followed_link(request, pk) -> CaregiverLink:
    """The caller's live link with this id: anyone else's, or a revoked one, is not found."""
    link = caregiver_links_followed(request.user).filter(pk=pk).first()
    if link is None:
        raise NotFound(NOT_FOLLOWED)
    return link


@extend_schema(tags=["following"])
class FollowingView(APIView):
    """The patients the signed-in caregiver follows, and what each lets them do."""

    permission_classes = [IsCaregiver]

    @extend_schema(operation_id="following_list", responses={200: FollowedPatientSerializer(many=True)})
    def get(self, request):
        return Response(FollowedPatientSerializer(caregiver_links_followed(request.user), many=True).data)


@extend_schema(tags=["following"])
class FollowedChecklistView(APIView):
    """A followed patient's checklist, as the patient's phone shows it (health facts only if allowed)."""

    permission_classes = [IsCaregiver]

    @extend_schema(operation_id="following_checklist_retrieve", parameters=[LANGUAGE_PARAMETER],
                   responses={200: ChecklistSerializer, 304: None,
                              404: error_response(f"{NOT_FOLLOWED} Or: {NO_CHECKLIST}")})
    def get(self, request, pk: int):
        link = followed_link(request, pk)
        language = reader_language(request, link)
        with transaction.atomic():
            checklist = checklist_current(link.patient)
            if checklist is None:
                raise NotFound(NO_CHECKLIST)
            caregivers.caregiver_read_record(link=link, request=request)
            payload = checklist_payload(checklist, language=language, health_facts=link.sees_health_facts)
        return conditional_answer(request, payload)


@extend_schema(tags=["following"])
class FollowedAboutView(APIView):
    """About the followed patient's surgery: their protocol's plain-words pages, their approach's first."""

    permission_classes = [IsCaregiver]

    @extend_schema(operation_id="following_about_retrieve", parameters=[LANGUAGE_PARAMETER],
                   responses={200: AboutSerializer, 304: None,
                              404: error_response(f"{NOT_FOLLOWED} Or: {NO_CHECKLIST}")})
    def get(self, request, pk: int):
        link = followed_link(request, pk)
        language = reader_language(request, link)
        with transaction.atomic():
            checklist = checklist_current(link.patient)
            if checklist is None:
                raise NotFound(NO_CHECKLIST)
            caregivers.caregiver_read_record(link=link, request=request)
            payload = about_payload(checklist.protocol_version, checklist.case, language=language)
        return conditional_answer(request, payload)


@extend_schema(tags=["following"])
class FollowedSafetyView(APIView):
    """A followed patient's safety card: the rules in force, the warning signs and when to call."""

    permission_classes = [IsCaregiver]

    @extend_schema(operation_id="following_safety_retrieve", parameters=[LANGUAGE_PARAMETER],
                   responses={200: SafetySerializer, 304: None, 404: error_response(NOT_FOLLOWED)})
    def get(self, request, pk: int):
        link = followed_link(request, pk)
        language = reader_language(request, link)
        with transaction.atomic():
            caregivers.caregiver_read_record(link=link, request=request)
            payload = safety_payload.patient_safety(link.patient, language=language)
        return conditional_answer(request, payload)


class FollowedTaskTickView(APIView):
    """Tick one of a followed patient's steps off (or undo it), if the patient allows it."""

    permission_classes = [IsCaregiver]
    done = True

    def post(self, request, pk: int, task_id: int):
        link = followed_link(request, pk)
        task = (
            Task.objects.filter(pk=task_id, checklist__case__patient=link.patient)
            .select_related("definition", "checklist__case__patient")
            .first()
        )
        if task is None:
            raise NotFound(NO_TASK)
        if not link.can_tick:
            raise PermissionDenied(MAY_NOT_TICK)
        language = reader_language(request, link)
        with transaction.atomic():
            if self.done:
                task = workflows.task_complete(task=task, by=request.user, now=timezone.now())
            else:
                task = workflows.task_reopen(task=task, by=request.user)
            caregivers.caregiver_read_record(link=link, action="caregiver-tick" if self.done else "caregiver-untick",
                                             request=request)
        patient = link.patient
        return Response(task_payload(
            task, language=language, weight_kg=patient.weight_kg, today=patient.local_today(), facts=patient.facts,
            health_facts=link.sees_health_facts,
        ))


TICK_RESPONSES = {
    200: TaskSerializer,
    400: error_response("The surgery is over or cancelled, or the language is not one of ours."),
    403: error_response(MAY_NOT_TICK),
    404: error_response(f"{NOT_FOLLOWED} Or: {NO_TASK}"),
}


@extend_schema(tags=["following"])
class FollowedTaskCompleteView(FollowedTaskTickView):
    @extend_schema(operation_id="following_tasks_complete", parameters=[LANGUAGE_PARAMETER], request=None,
                   responses=TICK_RESPONSES)
    def post(self, request, pk: int, task_id: int):
        return super().post(request, pk, task_id)


@extend_schema(tags=["following"])
class FollowedTaskReopenView(FollowedTaskTickView):
    done = False

    @extend_schema(operation_id="following_tasks_reopen", parameters=[LANGUAGE_PARAMETER], request=None,
                   responses=TICK_RESPONSES)
    def post(self, request, pk: int, task_id: int):
        return super().post(request, pk, task_id)
