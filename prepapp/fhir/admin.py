"""The FHIR connection in the admin: integration clients (keys issued, rotated, revoked), the FHIR sources pull
mode polls (their state, "poll now"), the procedure mapping, held matches.

Each limited to the staff member's organizations, as every care record is (prepapp.admin_scoping).
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from kombu.exceptions import OperationalError as BrokerError

from prepapp.admin_scoping import OrganizationScopedAdmin
from prepapp.fhir import pull
from prepapp.fhir.models import FhirSource, HeldMatch, IntegrationClient, ProcedureMapping
from prepapp.fhir.services import (
    check_source_address,
    fhir_source_add,
    fhir_source_update,
    integration_client_issue,
    integration_client_revoke,
    integration_client_rotate,
)
from prepapp.fhir.tasks import poll_fhir_source

KEY_SHOWN_ONCE = gettext_lazy(
    "The key of %(client)s is %(key)s — copy it into the interface engine now: it is not shown again."
)


@admin.register(IntegrationClient)
class IntegrationClientAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    list_display = ["name", "organization", "key_prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["organization"]
    fields = ["organization", "name", "key_prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["key_prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["rotate_keys", "revoke_keys"]

    def get_readonly_fields(self, request, obj=None):
        fixed = list(super().get_readonly_fields(request, obj))
        return fixed + ["organization"] if obj is not None else fixed

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        # Issued by the service, never saved as typed: the key is made here and shown once.
        issued = integration_client_issue(organization=obj.organization, name=obj.name)
        for field in ("pk", "user_id", "key_digest", "key_prefix", "created_at"):
            setattr(obj, field, getattr(issued, field))
        self.message_user(request, KEY_SHOWN_ONCE % {"client": issued.name, "key": issued.key}, messages.WARNING)

    @admin.action(description=gettext_lazy("Issue a new key (the current one stops working)"))
    def rotate_keys(self, request, queryset):
        for client in queryset:
            rotated = integration_client_rotate(client=client)
            self.message_user(request, KEY_SHOWN_ONCE % {"client": rotated.name, "key": rotated.key}, messages.WARNING)

    @admin.action(description=gettext_lazy("Revoke the key"))
    def revoke_keys(self, request, queryset):
        for client in queryset:
            integration_client_revoke(client=client)
        self.message_user(request, _("Revoked."), messages.SUCCESS)


@admin.register(ProcedureMapping)
class ProcedureMappingAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    list_display = ["code", "display", "system", "protocol", "organization"]
    list_filter = ["organization", "system"]
    search_fields = ["code", "display"]


@admin.register(HeldMatch)
class HeldMatchAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    list_display = ["full_name", "date_of_birth", "value", "candidate", "received_at", "resolved_at"]
    list_filter = ["organization"]
    readonly_fields = ["organization", "candidate", "system", "value", "full_name", "date_of_birth", "received_at"]
    fields = [*readonly_fields, "resolved_at"]
    patient_path = "candidate"

    def has_add_permission(self, request):
        return False


class FhirSourceForm(forms.ModelForm):
    # Typed, never shown back: the page says only whether one is kept.
    token = forms.CharField(
        label=gettext_lazy("Bearer token"), required=False, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy("Sent as “Authorization: Bearer …” with every request. Leave empty to keep the "
                               "current one."),
    )
    remove_token = forms.BooleanField(label=gettext_lazy("Remove the token"), required=False)
    base_url = forms.URLField(
        label=gettext_lazy("Base address"), max_length=500, assume_scheme="https",
        help_text=gettext_lazy("The FHIR R4 base address, e.g. https://ehr.example.org/fhir/R4."),
    )

    class Meta:
        model = FhirSource
        fields = ["organization", "name", "base_url", "enabled"]

    def clean_base_url(self):
        try:
            return check_source_address(self.cleaned_data["base_url"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["base_url"]) from None


@admin.register(FhirSource)
class FhirSourceAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    form = FhirSourceForm
    list_display = ["name", "organization", "enabled", "state", "watermark", "last_success_at", "last_error_at",
                    "last_appointments", "last_created", "last_changed"]
    list_filter = ["organization", "enabled"]
    readonly_fields = ["token_kept", "state", "watermark", "last_success_at", "last_error", "last_error_at",
                       "last_appointments", "last_patients", "last_created", "last_changed", "last_held",
                       "claimed_until"]
    actions = ["poll_now"]

    def get_fieldsets(self, request, obj=None):
        connection = ["organization", "name", "base_url", "enabled", "token", "remove_token"]
        if obj is None:
            return [(None, {"fields": connection})]
        return [
            (None, {"fields": [*connection, "token_kept"]}),
            (gettext_lazy("Last poll"), {"fields": [
                "state", "watermark", "last_success_at", "last_error", "last_error_at", "last_appointments",
                "last_patients", "last_created", "last_changed", "last_held", "claimed_until",
            ]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        fixed = list(super().get_readonly_fields(request, obj))
        return fixed + ["organization"] if obj is not None else fixed

    @admin.display(description=gettext_lazy("Token kept"), boolean=True)
    def token_kept(self, obj):
        return obj.has_token

    @admin.display(description=gettext_lazy("State"))
    def state(self, obj):
        if not obj.enabled:
            return _("Not polled (disabled)")
        if obj.last_error_at and (obj.last_success_at is None or obj.last_error_at > obj.last_success_at):
            return _("Failing: %(error)s") % {"error": obj.last_error}
        if obj.last_success_at is None:
            return _("Not polled yet")
        return _("Working")

    def save_model(self, request, obj, form, change):
        token = form.cleaned_data.get("token") or None
        if form.cleaned_data.get("remove_token"):
            token = ""  # nosec B105  # no token at all: the service's way of removing it
        if change:
            saved = fhir_source_update(source=obj, name=obj.name, base_url=obj.base_url, enabled=obj.enabled,
                                       token=token)
        else:
            # Made by the service, never saved as typed: it gives the source its own login for the audit trail.
            saved = fhir_source_add(organization=obj.organization, name=obj.name, base_url=obj.base_url,
                                    token=token or "", enabled=obj.enabled)
        for field in ("pk", "user_id", "sealed_token", "watermark", "created_at"):
            setattr(obj, field, getattr(saved, field))

    @admin.action(description=gettext_lazy("Poll now"))
    def poll_now(self, request, queryset):
        # On a worker, as beat's polls run: a first poll may book a whole schedule, longer than a page may wait.
        free = set(pull.sources_to_poll())
        for source in queryset:
            if source.pk not in free:
                self.message_user(request, _("%(source)s is disabled or being polled right now.")
                                  % {"source": source.name}, messages.WARNING)
                continue
            try:
                poll_fhir_source.delay(source.pk)
            except (BrokerError, OSError):
                self.message_user(request, _("%(source)s: the poll could not be queued (the task queue is not "
                                             "answering); beat will poll it on its next round.")
                                  % {"source": source.name}, messages.ERROR)
                continue
            self.message_user(request, _("%(source)s is being polled; reload this page in a minute to see what "
                                         "the poll read and did, or why it failed.")
                              % {"source": source.name}, messages.SUCCESS)
