from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from . import services
from .models import Checklist, Protocol, ProtocolVersion, Task, TaskDefinition


class ProtocolVersionInline(admin.TabularInline):
    model = ProtocolVersion
    extra = 0
    fields = ["number", "created_at", "published_at", "source"]
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Protocol)
class ProtocolAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "procedure", "organization"]
    search_fields = ["name", "key"]
    inlines = [ProtocolVersionInline]


class TaskDefinitionInline(admin.StackedInline):
    """The steps of a version: editable, addable and removable only while it is a draft."""

    model = TaskDefinition
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
class ProtocolVersionAdmin(admin.ModelAdmin):
    """Published versions are frozen; a clinical lead copies one into a draft, edits it, then publishes it."""

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

    @admin.action(description="Copy as a new draft")
    def copy_as_draft(self, request, queryset):
        for version in queryset:
            draft = services.protocol_version_draft(version=version)
            self.message_user(request, f"{draft} is a draft: edit its steps, then publish it.", messages.SUCCESS)

    @admin.action(description="Publish (freeze and make it the version new checklists get)")
    def publish(self, request, queryset):
        for version in queryset:
            try:
                services.protocol_version_publish(version=version)
            except ValidationError as exc:
                self.message_user(request, f"{version}: {'; '.join(exc.messages)}", messages.ERROR)
            else:
                self.message_user(request, f"{version} is published.", messages.SUCCESS)


@admin.register(TaskDefinition)
class TaskDefinitionAdmin(admin.ModelAdmin):
    list_display = ["title", "version", "category", "offset_days", "window_start_days", "window_end_days"]
    list_filter = ["version__protocol", "category"]
    search_fields = ["title", "key"]

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or obj.version.is_draft)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.version.is_draft)


class TaskInline(admin.TabularInline):
    model = Task
    extra = 0
    fields = ["definition", "due_date", "window_start", "window_end", "late", "status", "completed_at"]
    readonly_fields = ["definition"]


@admin.register(Checklist)
class ChecklistAdmin(admin.ModelAdmin):
    list_display = ["case", "protocol_version", "assigned_at"]
    list_filter = ["protocol_version__protocol"]
    search_fields = ["case__patient__full_name"]
    raw_id_fields = ["case"]
    inlines = [TaskInline]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["definition", "checklist", "due_date", "status", "late"]
    list_filter = ["status", "late", "definition__category"]
    search_fields = ["checklist__case__patient__full_name", "definition__title"]
    raw_id_fields = ["checklist", "definition", "completed_by"]
