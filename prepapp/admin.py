from django.contrib import admin

from .models import AuditEntry, Organization, Patient, StaffMembership, SurgeryCase


class StaffMembershipInline(admin.TabularInline):
    model = StaffMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]
    inlines = [StaffMembershipInline]


@admin.register(StaffMembership)
class StaffMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role"]
    list_filter = ["role", "organization"]
    autocomplete_fields = ["user", "organization"]


class SurgeryCaseInline(admin.TabularInline):
    model = SurgeryCase
    extra = 0
    fields = ["procedure", "surgeon", "surgery_date", "surgery_time", "status"]
    show_change_link = True


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["full_name", "organization", "time_zone", "language", "invitation_code", "invitation_accepted_at"]
    list_filter = ["organization", "language", "smoker", "diabetic", "on_blood_thinners", "takes_nsaids"]
    search_fields = ["full_name", "contact_email", "invitation_code"]
    readonly_fields = ["invitation_code", "invitation_accepted_at", "created_at"]
    autocomplete_fields = ["user", "organization"]
    inlines = [SurgeryCaseInline]
    fieldsets = [
        (None, {"fields": ["organization", "user", "full_name", "contact_email", "time_zone", "language", "weight_kg"]}),
        ("Facts the protocol uses", {"fields": ["smoker", "diabetic", "on_blood_thinners", "takes_nsaids"]}),
        ("Reminders", {"fields": ["reminder_time", "quiet_hours_start", "quiet_hours_end",
                                  "inapp_enabled", "push_enabled", "email_enabled"]}),
        ("Invitation", {"fields": ["invitation_code", "invitation_accepted_at", "created_at"]}),
    ]


@admin.register(SurgeryCase)
class SurgeryCaseAdmin(admin.ModelAdmin):
    list_display = ["patient", "procedure", "surgeon", "surgery_date", "status"]
    list_filter = ["status", "patient__organization"]
    search_fields = ["patient__full_name", "procedure", "surgeon"]
    autocomplete_fields = ["patient"]
    date_hierarchy = "surgery_date"


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "actor", "action", "patient", "path"]
    list_filter = ["action"]
    search_fields = ["patient__full_name", "actor__username"]
    raw_id_fields = ["actor", "patient"]

    # The audit trail is written by the service, never edited by hand.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
