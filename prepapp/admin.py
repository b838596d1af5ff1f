from django.contrib import admin

from .models import (
    AuditEntry, DeliveryAttempt, InboxMessage, Organization, Patient, PushSubscription, Reminder, StaffMembership,
    SurgeryCase,
)


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


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    fields = ["at", "channel", "outcome", "detail"]
    readonly_fields = fields
    can_delete = False
    ordering = ["-at", "-id"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    list_display = ["id", "patient", "rule", "channel", "anchor_date", "send_at", "status", "attempts", "last_error"]
    list_filter = ["status", "channel", "rule", "patient__organization"]
    search_fields = ["patient__full_name", "=id"]
    raw_id_fields = ["task", "patient"]
    readonly_fields = ["claimed_at", "sent_at", "attempts", "last_error", "created_at", "updated_at"]
    list_select_related = ["patient"]
    date_hierarchy = "send_at"
    inlines = [DeliveryAttemptInline]
    actions = ["retry_now"]

    @admin.action(description="Try the selected failed or skipped reminders again now")
    def retry_now(self, request, queryset):
        from .outbox import retry_now

        count = retry_now(reminder_ids=list(queryset.values_list("id", flat=True)))
        self.message_user(request, f"{count} reminder(s) will be sent at the next sweep.")


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(admin.ModelAdmin):
    """The delivery log: what each channel answered, per patient. Written by delivery only."""

    list_display = ["at", "patient", "channel", "outcome", "reminder", "detail"]
    list_filter = ["outcome", "channel", "patient__organization"]
    search_fields = ["patient__full_name", "=reminder__id"]
    raw_id_fields = ["reminder", "patient"]
    list_select_related = ["patient", "reminder"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(InboxMessage)
class InboxMessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "patient", "title", "read_at"]
    search_fields = ["patient__full_name", "title"]
    raw_id_fields = ["patient", "reminder", "task"]
    list_select_related = ["patient"]


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["patient", "created_at", "last_success_at", "user_agent"]
    raw_id_fields = ["patient"]
    readonly_fields = ["endpoint", "p256dh", "auth", "created_at", "last_success_at"]


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
