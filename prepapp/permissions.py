"""Who may call what: staff act within their organizations, patients only on themselves."""

from rest_framework.permissions import BasePermission

from prepapp.models import Organization, Patient, StaffMembership


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


class IsStaffMember(BasePermission):
    message = "Only care-team members may do this."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and StaffMembership.objects.filter(user=user).exists())


class IsPatient(BasePermission):
    message = "Only patients may do this."

    def has_permission(self, request, view):
        return patient_of(request.user) is not None
