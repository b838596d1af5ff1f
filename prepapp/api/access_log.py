"""GET /api/v1/me/access-log/: the patient sees who (their care team, their caregivers) looked at or changed their record.

Read from the audit trail (prepapp.audit), newest first. It names the staff member, their
role and organization, and what they did in the patient's language (a caregiver by the name and relation the patient gave them); the client's address
and the path stay in the trail for the operator.
"""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.pagination import PageNumberPagination

from prepapp.models import AuditEntry, CaregiverLink, StaffMembership
from prepapp.permissions import IsPatient, patient_of

# What each audited action means to the patient whose record it was.
ACTION_LABELS = {
    "read": _("Opened your record"),
    "read-deliveries": _("Looked at the reminders sent to you"),
    "update": _("Changed your details"),
    "reschedule": _("Moved your surgery date"),
    "describe": _("Noted the approach and level of your surgery"),
    "cancel": _("Cancelled your surgery"),
    "complete": _("Marked your surgery as done"),
    "assign": _("Gave you your preparation checklist"),
    "issue-invitation": _("Gave you a new sign-in code"),
    "change-facts": _("Changed your health details"),
    "health-check": _("You answered the health check"),
    "email-invitation": _("Emailed you a new sign-in code"),
    "archive": _("Archived your record"),
    "discharge": _("Marked your care as finished"),
    "reactivate": _("Made your record active again"),
    "admin-list": _("Saw your name in a list"),
    "admin-read": _("Opened your record"),
    "admin-add": _("Added your record"),
    "admin-change": _("Changed your record"),
    "admin-delete": _("Removed part of your record"),
    "admin-history": _("Looked at the history of changes to your record"),
    "admin-search": _("Saw your name in a search"),
    "book": _("Booked your surgery"),
    "enrol": _("Added you to the service"),
    "list": _("Saw your name in a list"),
    "list-alerts": _("Looked at the alerts about you"),
    "read-safety": _("Looked at your check-ins and rules for now"),
    "lift-rule": _("Lifted one of your rules for now"),
    "reinstate-rule": _("Put one of your rules for now back in place"),
    "acknowledge-alert": _("Answered an alert about you"),
    "caregiver-invite": _("Invited a caregiver"),
    "caregiver-change": _("Changed what a caregiver may do"),
    "caregiver-revoke": _("Ended a caregiver's access"),
    "read-caregivers": _("Looked at who your caregivers are"),
    "caregiver-read": _("Looked at your plan, as your caregiver"),
    "caregiver-tick": _("Ticked off one of your steps, as your caregiver"),
    "caregiver-untick": _("Undid a tick on one of your steps, as your caregiver"),
}
OTHER_ACTION = _("Looked at your record")


class AccessorSerializer(serializers.Serializer):
    name = serializers.CharField(
        help_text="The staff member's full name (or username), or the caregiver's name as the patient gave it."
    )
    role = serializers.CharField(
        allow_blank=True, help_text="Their role in the care team, e.g. “Care coordinator”, or a caregiver's relation."
    )
    organization = serializers.CharField(allow_blank=True, help_text="The organization they work for.")


class AccessLogEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField(help_text="When it happened.")
    action = serializers.CharField(help_text="What was done, as a code: read, update, admin-list, …")
    what = serializers.CharField(help_text="What was done, in the patient's language.")
    who = AccessorSerializer()


class AccessLogPagination(PageNumberPagination):
    page_size = 50


@extend_schema(tags=["me"])
class MyAccessLogView(generics.ListAPIView):
    """Who in the care team looked at or changed my record, and when; newest first."""

    permission_classes = [IsPatient]
    serializer_class = AccessLogEntrySerializer
    pagination_class = AccessLogPagination

    def get_queryset(self):
        patient = patient_of(self.request.user)
        return AuditEntry.objects.filter(patient=patient).select_related("actor", "organization").order_by("-at", "-id")

    @extend_schema(operation_id="me_access_log_list")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        patient = patient_of(request.user)
        # Caregivers are named as the patient named them ("Ana", "daughter"), not by their account.
        caregivers = {
            link.caregiver_id: link
            for link in CaregiverLink.objects.filter(patient=patient, caregiver_id__in={e.actor_id for e in page})
        }
        roles = {
            (m.user_id, m.organization_id): m
            for m in StaffMembership.objects.filter(user_id__in={e.actor_id for e in page})
        }
        # Labels in the patient's own language, as the app around them is drawn.
        with translation.override(patient.language):
            rows = [
                self.row(entry, roles.get((entry.actor_id, entry.organization_id)), own=entry.actor_id == request.user.pk,
                         caregiver=caregivers.get(entry.actor_id))
                for entry in page
            ]
            return self.get_paginated_response(AccessLogEntrySerializer(rows, many=True).data)

    @staticmethod
    def row(entry: AuditEntry, membership: StaffMembership | None, *, own: bool = False,
            caregiver: CaregiverLink | None = None) -> dict:
        actor = entry.actor
        # The patient's own changes (the health check) are in the trail too: shown as theirs.
        if own:
            who = {"name": str(_("You")), "role": "", "organization": ""}
        elif caregiver is not None:
            who = {"name": caregiver.name, "role": caregiver.relationship, "organization": ""}
        else:
            who = {
                "name": actor.get_full_name() or actor.get_username(),
                "role": membership.get_role_display() if membership else "",
                "organization": entry.organization.name if entry.organization else "",
            }
        return {
            "id": entry.id,
            "at": entry.at,
            "action": entry.action,
            "what": ACTION_LABELS.get(entry.action, OTHER_ACTION),
            "who": who,
        }
