"""Protocols, their versions and steps, and patients' checklists in the admin, per organization.

The protocols the service ships (no organization) are readable by every clinical lead and
changed by the operator only. A lead who copies a shipped version as a draft gets it in their
organization's own copy of that protocol, so their edits never reach another organization's
checklists. An organization's own protocols, drafts included, are its staff's alone.
"""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from checklists import publishing
from checklists.models import Checklist, Protocol, ProtocolVersion, Task, TaskDefinition
from prepapp.admin_scoping import OrganizationScopedAdmin, OrganizationScopedInline, is_operator
from prepapp.permissions import staff_organization_ids, staff_organizations


class ProtocolVersionInline(OrganizationScopedInline, admin.TabularInline):
    model = ProtocolVersion
    organization_path = "protocol__organization"
    shared_when_unowned = True
    extra = 0
    fields = ["number", "created_at", "published_at", "source"]
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Protocol)
class ProtocolAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    shared_when_unowned = True
    list_display = ["name", "key", "procedure", "organization"]
    search_fields = ["name", "key"]
    inlines = [ProtocolVersionInline]


class TaskDefinitionInline(OrganizationScopedInline, admin.StackedInline):
    """The steps of a version: editable, addable and removable only while it is a draft."""

    model = TaskDefinition
    organization_path = "version__protocol__organization"
    shared_when_unowned = True
    extra = 0

    def _draft(self, obj):
        return obj is None or obj.is_draft

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and self._draft(obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._draft(obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._draft(obj)


@admin.register(ProtocolVersion)
class ProtocolVersionAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    """Published versions are frozen; a clinical lead copies one into a draft, edits it, then publishes it."""

    organization_path = "protocol__organization"
    shared_when_unowned = True
    list_display = ["protocol", "number", "status", "created_at", "published_at"]
    list_filter = ["protocol"]
    readonly_fields = ["protocol", "number", "content_hash", "created_at", "published_at"]
    inlines = [TaskDefinitionInline]
    actions = ["copy_as_draft", "publish"]

    @admin.display(description="status")
    def status(self, obj):
        return "draft" if obj.is_draft else "published"

    def has_add_permission(self, request):
        return False  # new versions come from a protocol file or from "copy as a new draft"

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or obj.is_draft)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.is_draft)

    @admin.action(description="Copy as a new draft", permissions=["change"])
    def copy_as_draft(self, request, queryset):
        for version in queryset.select_related("protocol"):
            try:
                if is_operator(request.user) or version.protocol.organization_id is not None:
                    draft = publishing.protocol_version_draft(version=version)
                else:
                    draft = publishing.protocol_version_draft_for_organization(
                        version=version, organization=self._only_organization(request)
                    )
            except ValidationError as exc:
                self.message_user(request, f"{version}: {'; '.join(exc.messages)}", messages.ERROR)
            else:
                self.message_user(request, f"{draft} is a draft: edit its steps, then publish it.", messages.SUCCESS)

    @admin.action(description="Publish (freeze and make it the version new checklists get)", permissions=["change"])
    def publish(self, request, queryset):
        for version in queryset.select_related("protocol"):
            if not is_operator(request.user) and version.protocol.organization_id is None:
                self.message_user(
                    request,
                    f"{version}: the shipped protocols are the service's; copy it as a draft for your organization.",
                    messages.ERROR,
                )
                continue
            try:
                publishing.protocol_version_publish(version=version)
            except ValidationError as exc:
                self.message_user(request, f"{version}: {'; '.join(exc.messages)}", messages.ERROR)
            else:
                self.message_user(request, f"{version} is published.", messages.SUCCESS)

    def _only_organization(self, request):
        organizations = list(staff_organizations(request.user)[:2])
        if len(organizations) != 1:
            raise ValidationError("Copying a shipped protocol needs exactly one organization to copy it for.")
        return organizations[0]


@admin.register(TaskDefinition)
class TaskDefinitionAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    organization_path = "version__protocol__organization"
    shared_when_unowned = True
    list_display = ["title", "version", "category", "offset_days", "window_start_days", "window_end_days"]
    list_filter = ["version__protocol", "category"]
    search_fields = ["title", "key"]

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or obj.version.is_draft)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.version.is_draft)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "version" and not is_operator(request.user):
            # A step can only go into a draft the staff member's organization may edit.
            kwargs["queryset"] = ProtocolVersion.objects.filter(
                published_at__isnull=True, protocol__organization__in=staff_organization_ids(request.user)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class TaskInline(OrganizationScopedInline, admin.TabularInline):
    model = Task
    organization_path = "checklist__case__patient__organization"
    extra = 0
    fields = [
        "definition", "due_date", "window_start", "window_end", "late", "not_enough_time", "status", "completed_at",
    ]
    readonly_fields = ["definition"]


@admin.register(Checklist)
class ChecklistAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    organization_path = "case__patient__organization"
    patient_path = "case__patient"
    list_display = ["case", "protocol_version", "assigned_at"]
    list_filter = ["protocol_version__protocol"]
    search_fields = ["case__patient__full_name"]
    raw_id_fields = ["case"]
    inlines = [TaskInline]


@admin.register(Task)
class TaskAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    organization_path = "checklist__case__patient__organization"
    patient_path = "checklist__case__patient"
    list_display = ["definition", "checklist", "due_date", "status", "late", "not_enough_time"]
    list_filter = ["status", "late", "not_enough_time", "definition__category"]
    search_fields = ["checklist__case__patient__full_name", "definition__title"]
    raw_id_fields = ["checklist", "definition", "completed_by"]
