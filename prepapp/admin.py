"""The care records in the admin, each limited to the staff member's organizations (prepapp.admin_scoping).

Accounts, groups, API tokens and sign-in records belong to no organization: they are the
operator's (a superuser's) to manage; anyone else sees only their own account, and cannot
change its privileges.
"""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db import router, transaction
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from prepapp.admin_audit import AuditedAdmin, AuditedAdminSite
from prepapp.admin_scoping import (
    OperatorOnlyAdmin,
    OrganizationScopedAdmin,
    OrganizationScopedInline,
    is_operator,
)
from prepapp import two_factor
from prepapp.facts import FACTS
from prepapp.lib.throttling import address_throttle_wait, too_many_requests
from prepapp.models import (
    AuditEntry, CaregiverLink, CaregiverSettings, Organization, Patient, StaffMembership, SurgeryCase,
)

User = get_user_model()


class SecondFactorAuthenticationForm(OTPAdminAuthenticationForm):
    """django-otp's admin sign-in form, taking the code with the password in one go.

    Left to itself it asks to pick a device first; here the code's shape picks it (the app's
    6 digits, or a recovery code), as on the coordinator pages.
    """

    def _verify_token(self, user, token, device=None):
        if device is None:
            device = two_factor.device_for_code(user=user, token=token)
        if device is None:
            raise forms.ValidationError(self.otp_error_messages["invalid_token"], code="invalid_token")
        return super()._verify_token(user, token, device)


class SecondFactorAdminSite(OTPAdminSite, AuditedAdminSite):
    """The admin lets in only sessions verified with a second factor (django-otp's OTPAdminSite).

It stays the audited site too (its autocomplete is an audited read of the patients it lists).

    Its sign-in form asks for the code with the password; a lead who signed in on the
    coordinator pages (with her code) is verified already. Password attempts count against
    the same per-address limit as the other password sign-ins.
    """

    login_form = SecondFactorAuthenticationForm

    def login(self, request, extra_context=None):
        if request.method == "POST":
            wait = address_throttle_wait(request, "token")
            if wait is not None:
                return too_many_requests(request, wait)
        return super().login(request, extra_context)


# django-otp's documented way to make the default site require the second factor, keeping
# its name and registry (every app's admin is registered on it).
admin.site.__class__ = SecondFactorAdminSite


class MembershipsByOperatorOnly:
    """Who belongs to an organization, and in which role, is the operator's to change."""

    def has_add_permission(self, request, *args):
        return is_operator(request.user) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return is_operator(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return is_operator(request.user) and super().has_delete_permission(request, obj)


class StaffMembershipInline(MembershipsByOperatorOnly, OrganizationScopedInline, admin.TabularInline):
    model = StaffMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    organization_path = "id"
    list_display = ["name", "slug", "created_at"]
    ordering = ["name", "id"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]
    inlines = [StaffMembershipInline]


@admin.register(StaffMembership)
class StaffMembershipAdmin(MembershipsByOperatorOnly, OrganizationScopedAdmin, admin.ModelAdmin):
    list_display = ["user", "organization", "role"]
    list_filter = ["role", "organization"]
    autocomplete_fields = ["user", "organization"]


class SurgeryCaseInline(OrganizationScopedInline, admin.TabularInline):
    model = SurgeryCase
    organization_path = "patient__organization"
    extra = 0
    fields = ["procedure", "surgeon", "approach", "level", "surgery_date", "surgery_time", "status"]
    show_change_link = True


@admin.register(Patient)
class PatientAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    patient_path = "pk"
    list_display = ["full_name", "organization", "status", "time_zone", "language", "invitation_accepted_at"]
    list_filter = ["organization", "status", "language", *FACTS]
    search_fields = ["full_name", "contact_email"]
    # The status changes through the coordinator pages or the API, which cancel and plan reminders with it.
    readonly_fields = ["invitation_accepted_at", "created_at", "status", "status_changed_at", "status_reason"]
    autocomplete_fields = ["user", "organization"]
    inlines = [SurgeryCaseInline]

    def get_readonly_fields(self, request, obj=None):
        # Changing a fact must re-tailor the checklist (prepapp.workflows), which sits above the admin.
        readonly = super().get_readonly_fields(request, obj)
        return [*readonly, *FACTS] if obj is not None else readonly

    fieldsets = [
        (None, {"fields": ["organization", "user", "full_name", "contact_email", "time_zone", "language",
                           "weight_kg", "date_of_birth"]}),
        ("Status", {"fields": ["status", "status_changed_at", "status_reason"]}),
        ("Facts the protocol uses", {
            "fields": list(FACTS),
            "description": "Yes, no or not known yet. Once the patient is enrolled, change them on the "
            "coordinator pages or through the API: that re-tailors the checklist and tells the patient.",
        }),
        ("Reminders", {"fields": ["reminder_time", "quiet_hours_start", "quiet_hours_end",
                                  "inapp_enabled", "push_enabled", "email_enabled"]}),
        ("Invitation", {"fields": ["invitation_accepted_at", "created_at"]}),
    ]


@admin.register(SurgeryCase)
class SurgeryCaseAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    organization_path = "patient__organization"
    patient_path = "patient"
    list_display = ["patient", "procedure", "surgeon", "approach", "level", "surgery_date", "status"]
    list_filter = ["status", "patient__organization"]
    search_fields = ["patient__full_name", "procedure", "surgeon"]
    autocomplete_fields = ["patient"]
    date_hierarchy = "surgery_date"


class ReadOnlyHere:
    """Changed only through the services (a revocation ends sessions and is audited): read in the admin."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CaregiverLink)
class CaregiverLinkAdmin(ReadOnlyHere, OrganizationScopedAdmin, admin.ModelAdmin):
    """Who follows each patient, what the patient lets them do, and how the caregiver chose to hear from us."""

    organization_path = "patient__organization"
    patient_path = "patient"
    list_display = ["name", "relationship", "patient", "access", "gets_reminders", "invited_at", "accepted_at",
                    "revoked_at"]
    list_filter = ["access", "gets_reminders", "patient__organization"]
    search_fields = ["name", "patient__full_name"]
    list_select_related = ["patient"]
    fields = ["patient", "name", "relationship", "email", "language", "access", "gets_reminders",
              "sees_health_facts", "invited_by", "invited_at", "consent_note", "accepted_at", "revoked_at",
              "own_settings"]
    readonly_fields = fields

    @admin.display(description="The caregiver's own settings")
    def own_settings(self, link):
        own = CaregiverSettings.objects.filter(user_id=link.caregiver_id).first()
        if own is None:
            return "not chosen yet"
        channels = [name for name, on in (("in the app", own.inapp_enabled), ("email", own.email_enabled),
                                          ("Web Push", own.push_enabled)) if on] or ["none"]
        return (f"{', '.join(channels)}; at {own.reminder_time:%H:%M}, quiet {own.quiet_hours_start:%H:%M}–"
                f"{own.quiet_hours_end:%H:%M} ({own.time_zone}); language {own.get_language_display()}")


@admin.register(AuditEntry)
class AuditEntryAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    """The audit trail, read-only: written by the service, never edited or removed by hand.

    Its pages name the patients the entries are about: reading them is a read of those patients' records too.
    """

    patient_path = "patient"

    list_display = ["at", "actor", "action", "patient", "patient_ref", "ip_address", "path"]
    list_filter = ["action"]
    search_fields = ["patient__full_name", "patient_ref", "actor__username"]
    list_select_related = ["actor", "patient"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Accounts and the other models no organization owns -----------------------------------


class OwnAccountUserAdmin(AuditedAdmin, UserAdmin):
    """Every account for the operator; for anyone else only their own, its privileges shown but fixed.

    A patient's login carries their email address: the operator's list, search and pages of
    such logins are audited reads of those patients' records.
    """

    patient_path = "patient"

    # What a non-operator sees on their own account but cannot change.
    privilege_fields = [
        "username", "is_active", "is_staff", "is_superuser", "groups", "user_permissions", "last_login", "date_joined",
    ]

    def get_queryset(self, request):
        accounts = super().get_queryset(request)
        return accounts if is_operator(request.user) else accounts.filter(pk=request.user.pk)

    def own_account(self, request, obj) -> bool:
        return request.user.is_active and request.user.is_staff and (obj is None or obj.pk == request.user.pk)

    def has_module_permission(self, request):
        return is_operator(request.user) or self.own_account(request, None)

    def has_view_permission(self, request, obj=None):
        if is_operator(request.user):
            return super().has_view_permission(request, obj)
        return self.own_account(request, obj)

    def has_change_permission(self, request, obj=None):
        if is_operator(request.user):
            return super().has_change_permission(request, obj)
        return self.own_account(request, obj)

    def has_add_permission(self, request):
        return is_operator(request.user) and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return is_operator(request.user) and super().has_delete_permission(request, obj)

    def user_change_password(self, request, id, form_url=""):
        # The page names the login; Django opens a transaction for the posted form only.
        with transaction.atomic(using=router.db_for_write(self.model)):
            response = super().user_change_password(request, id, form_url)
            shown = (getattr(response, "context_data", None) or {}).get("original")
            if shown is not None:
                self.audit(request, "admin-read", [shown])
            return response

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if not is_operator(request.user):
            # A disabled field ignores whatever is posted for it and keeps the stored value.
            for name in self.privilege_fields:
                if name in form.base_fields:
                    form.base_fields[name].disabled = True
        return form


admin.site.unregister(User)
admin.site.register(User, OwnAccountUserAdmin)


def operator_only(model) -> None:
    """Register a model's admin again so that only the operator may use it."""
    current = type(admin.site._registry[model])
    admin.site.unregister(model)
    # Audited as well: their forms offer every account, patients' logins among them.
    admin.site.register(model, type(current.__name__, (OperatorOnlyAdmin, AuditedAdmin, current), {}))


# Groups (which grant permissions), API tokens, sign-in records (axes) and second-factor
# devices (a lead resets a teammate's on the coordinator pages). Their apps come before this
# one in INSTALLED_APPS, so their admins are registered by now.
OPERATOR_APPS = {"auth", "authtoken", "axes", "otp_totp", "otp_static"}
for _model in [m for m in admin.site._registry if m._meta.app_label in OPERATOR_APPS and m is not User]:
    operator_only(_model)
