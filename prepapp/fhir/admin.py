"""The FHIR connection in the admin: integration clients (keys issued, rotated, revoked), the procedure mapping, held matches.

Each limited to the staff member's organizations, as every care record is (prepapp.admin_scoping).
"""

from django.contrib import admin, messages
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from prepapp.admin_scoping import OrganizationScopedAdmin
from prepapp.fhir.models import HeldMatch, IntegrationClient, ProcedureMapping
from prepapp.fhir.services import integration_client_issue, integration_client_revoke, integration_client_rotate

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
