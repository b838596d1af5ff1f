"""The reminder engine in the admin: outbox, delivery log, inbox, push subscriptions, announcements and alerts, per organization."""

from django.contrib import admin

from prepapp.admin_scoping import OrganizationScopedAdmin, OrganizationScopedInline
from prepapp.reminders import outbox
from prepapp.reminders.models import (
    Alert,
    AlertEmail,
    Announcement,
    DeliveryAttempt,
    FamilyMessage,
    InboxMessage,
    PushSubscription,
    Reminder,
)


class WrittenByTheEngine:
    """Records only the reminder engine writes: staff read them in the admin, never add or change one."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class DeliveryAttemptInline(OrganizationScopedInline, admin.TabularInline):
    model = DeliveryAttempt
    organization_path = "patient__organization"
    extra = 0
    fields = ["at", "channel", "outcome", "possible_duplicate", "detail"]
    readonly_fields = fields
    can_delete = False
    ordering = ["-at", "-id"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Reminder)
class ReminderAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    organization_path = "patient__organization"
    patient_path = "patient"
    list_display = ["id", "patient", "rule", "channel", "anchor_date", "send_at", "status", "attempts", "last_error"]
    list_filter = ["status", "channel", "rule", "patient__organization"]
    search_fields = ["patient__full_name", "=id"]
    raw_id_fields = ["task", "patient"]
    readonly_fields = ["claimed_at", "sent_at", "attempts", "lost_claims", "last_error", "created_at", "updated_at"]
    list_select_related = ["patient"]
    date_hierarchy = "send_at"
    inlines = [DeliveryAttemptInline]
    actions = ["retry_now"]

    @admin.action(description="Try the selected failed or skipped reminders again now", permissions=["change"])
    def retry_now(self, request, queryset):
        count = outbox.retry_now(reminder_ids=list(queryset.values_list("id", flat=True)))
        self.message_user(request, f"{count} reminder(s) will be sent at the next sweep.")


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(WrittenByTheEngine, OrganizationScopedAdmin, admin.ModelAdmin):
    """The delivery log: what each channel answered, per patient. Written by delivery only."""

    organization_path = "patient__organization"
    patient_path = "patient"

    list_display = ["at", "patient", "channel", "outcome", "possible_duplicate", "reminder", "detail"]
    list_filter = ["outcome", "possible_duplicate", "channel", "patient__organization"]
    search_fields = ["patient__full_name", "=reminder__id"]
    raw_id_fields = ["reminder", "patient"]
    list_select_related = ["patient", "reminder"]
    date_hierarchy = "at"


@admin.register(InboxMessage)
class InboxMessageAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    organization_path = "patient__organization"
    patient_path = "patient"
    list_display = ["created_at", "patient", "title", "read_at"]
    search_fields = ["patient__full_name", "title"]
    raw_id_fields = ["patient", "reminder", "task"]
    list_select_related = ["patient"]


@admin.register(FamilyMessage)
class FamilyMessageAdmin(WrittenByTheEngine, OrganizationScopedAdmin, admin.ModelAdmin):
    """What caregivers were told about the patients they follow (their own inbox). Written by delivery only."""

    organization_path = "caregiver__patient__organization"
    patient_path = "caregiver__patient"
    list_display = ["created_at", "caregiver", "title", "read_at"]
    search_fields = ["caregiver__patient__full_name", "title"]
    raw_id_fields = ["caregiver", "reminder"]
    list_select_related = ["caregiver__patient"]


@admin.register(PushSubscription)
class PushSubscriptionAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    organization_path = "patient__organization"
    patient_path = "patient"
    list_display = ["patient", "created_at", "last_success_at", "user_agent"]
    raw_id_fields = ["patient"]
    readonly_fields = ["endpoint", "p256dh", "auth", "created_at", "last_success_at"]


@admin.register(Announcement)
class AnnouncementAdmin(WrittenByTheEngine, OrganizationScopedAdmin, admin.ModelAdmin):
    """What patients were told about their surgery being booked, moved or cancelled. Written by the services."""

    organization_path = "patient__organization"
    patient_path = "patient"
    list_display = ["created_at", "patient", "event", "old_date", "new_date"]
    list_filter = ["event"]
    search_fields = ["patient__full_name"]
    raw_id_fields = ["patient", "case"]
    readonly_fields = ["patient", "case", "event", "old_date", "old_time", "new_date", "new_time", "steps", "created_at"]
    list_select_related = ["patient"]


@admin.register(Alert)
class AlertAdmin(WrittenByTheEngine, OrganizationScopedAdmin, admin.ModelAdmin):
    """Overdue critical steps the care team must act on. Raised by the escalation; acknowledged on the roster."""

    organization_path = "organization"
    patient_path = "patient"
    list_display = ["raised_at", "patient", "task", "due_date", "days_overdue", "acknowledged_at", "acknowledged_by"]
    list_filter = ["acknowledged_at"]
    search_fields = ["patient__full_name"]
    raw_id_fields = ["organization", "patient", "task", "acknowledged_by"]
    readonly_fields = ["organization", "patient", "task", "due_date", "days_overdue", "raised_at", "acknowledged_at",
                       "acknowledged_by", "note"]
    list_select_related = ["patient", "task__definition", "acknowledged_by"]
    date_hierarchy = "raised_at"


@admin.register(AlertEmail)
class AlertEmailAdmin(WrittenByTheEngine, OrganizationScopedAdmin, admin.ModelAdmin):
    """Each coordinator's morning email of open alerts: sent once per day and organization."""

    organization_path = "organization"
    list_display = ["day", "user", "status", "alerts", "attempts", "sent_at", "last_error"]
    list_filter = ["status"]
    readonly_fields = ["user", "organization", "day", "status", "claimed_at", "sent_at", "alerts", "attempts",
                       "last_error"]
    list_select_related = ["user"]
    date_hierarchy = "day"
