"""Who may call what: staff act within their organizations, patients only on themselves, caregivers on whom they follow.

Also who must sign in with a second factor (prepapp.two_factor has the rest of it).
"""

from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission

from prepapp.models import CaregiverLink, Organization, Patient, StaffMembership


def staff_organization_ids(user):
    return StaffMembership.objects.filter(user=user).values("organization_id")


def staff_organizations(user):
    return Organization.objects.filter(id__in=staff_organization_ids(user))


def patient_of(user) -> Patient | None:
    if not user.is_authenticated:
        return None
    try:
        return user.patient
    except Patient.DoesNotExist:
        return None


def second_factor_required(user, memberships=None) -> bool:
    """Must this person sign in with a second factor? Leads and operators always; coordinators if asked."""
    if user is None or getattr(user, "pk", None) is None:
        return False
    if user.is_superuser:
        return True
    if memberships is None:
        memberships = StaffMembership.objects.filter(user=user).select_related("organization")
    return any(
        m.role == StaffMembership.Role.CLINICAL_LEAD or m.organization.staff_second_factor_required
        for m in memberships
    )


class IsStaffMember(BasePermission):
    """A member of a care team; with a session, one verified by a second factor if they must have one.

    Sessions that need a second factor begin only once it was given (frontend.sign_in_views),
    and API tokens are issued only with it; this refuses a session begun before the
    organization asked for one, until its owner signs in again.
    """

    message = "Only care-team members may do this."
    unverified_message = "Sign in again with your second factor: your role requires one."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        memberships = list(StaffMembership.objects.filter(user=user).select_related("organization"))
        if not memberships:
            return False
        if isinstance(request.successful_authenticator, SessionAuthentication) and second_factor_required(
            user, memberships
        ):
            verified = bool(getattr(user, "is_verified", lambda: False)())
            if not verified:
                # DRF answers with the permission's message: this one says what to do.
                self.message = self.unverified_message
            return verified
        return True


class IsPatient(BasePermission):
    message = "Only patients may do this."

    def has_permission(self, request, view):
        return patient_of(request.user) is not None


class IsCaregiver(BasePermission):
    """Someone who follows at least one patient now (a revoked caregiver follows no one)."""

    message = "Only caregivers may do this."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated) and CaregiverLink.objects.filter(
            caregiver=user, revoked_at__isnull=True
        ).exclude(patient__status=Patient.Status.ARCHIVED).exists()
