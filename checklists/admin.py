from django.contrib import admin

from .models import Checklist, Protocol, ProtocolVersion, Task, TaskDefinition


class ProtocolVersionInline(admin.TabularInline):
    model = ProtocolVersion
    extra = 0
    fields = ["number", "created_at", "source"]
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
    model = TaskDefinition
    extra = 0
    can_delete = False


@admin.register(ProtocolVersion)
class ProtocolVersionAdmin(admin.ModelAdmin):
    """A version in use must stay as it was assigned: once a checklist points at it, it is read-only."""

    list_display = ["protocol", "number", "created_at"]
    list_filter = ["protocol"]
    inlines = [TaskDefinitionInline]

    def _in_use(self, obj):
        return obj is not None and obj.pk and obj.checklists.exists()

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not self._in_use(obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not self._in_use(obj)


@admin.register(TaskDefinition)
class TaskDefinitionAdmin(admin.ModelAdmin):
    list_display = ["title", "version", "category", "offset_days", "window_start_days", "window_end_days"]
    list_filter = ["version__protocol", "category"]
    search_fields = ["title", "key"]

    def has_change_permission(self, request, obj=None):
        in_use = obj is not None and obj.version.checklists.exists()
        return super().has_change_permission(request, obj) and not in_use


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
