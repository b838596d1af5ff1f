"""Tenant isolation in the admin: staff see and change only their own organizations' records.

The operator (a superuser) sees everything. Anyone else sees, in every list, page, search,
filter, choice of a related record, inline and bulk action, only the rows of the
organizations they are a member of (prepapp.permissions.staff_organization_ids): each admin
names the way from its model to the organization once (`organization_path`) and the mixins
below apply it wherever the admin reads rows. Rows no organization owns (the protocols the
service ships) can be readable by all (`shared_when_unowned`) and are changed by the operator only.

Reading or changing patients' records in the admin is audited like the API's reads
(prepapp.admin_audit, through each admin's `patient_path`).
"""

from __future__ import annotations

from django.contrib.admin.filters import AllValuesFieldListFilter, RelatedFieldListFilter, RelatedOnlyFieldListFilter
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.auth.models import Group, Permission
from django.db import models
from django.db.models import Q

from prepapp.admin_audit import AuditedAdmin
from prepapp.permissions import staff_organization_ids

# The permissions a clinical lead needs in the admin; each row is further limited to their
# organizations by the admins themselves. Role groups get exactly these (see clinical_lead_group).
CLINICAL_LEAD_PERMISSIONS = [
    # The FHIR connection: the clinic's integration clients, the servers it polls, its procedure mapping,
    # matches held for review.
    "fhir.view_integrationclient", "fhir.add_integrationclient", "fhir.change_integrationclient",
    "fhir.view_proceduremapping", "fhir.add_proceduremapping", "fhir.change_proceduremapping",
    "fhir.delete_proceduremapping", "fhir.view_heldmatch", "fhir.change_heldmatch",
    "fhir.view_fhirsource", "fhir.add_fhirsource", "fhir.change_fhirsource",
    "prepapp.view_organization",
    "prepapp.view_staffmembership",
    "prepapp.view_patient",
    "prepapp.change_patient",
    "prepapp.view_surgerycase",
    "prepapp.change_surgerycase",
    "prepapp.view_auditentry",
    "prepapp.view_caregiverlink",
    "checklists.view_protocol",
    "checklists.change_protocol",
    "checklists.view_protocolversion",
    "checklists.change_protocolversion",
    "checklists.delete_protocolversion",
    "checklists.view_taskdefinition",
    "checklists.add_taskdefinition",
    "checklists.change_taskdefinition",
    "checklists.delete_taskdefinition",
    "checklists.view_checklist",
    "checklists.change_checklist",
    "checklists.view_task",
    "checklists.change_task",
    "reminders.view_reminder",
    "reminders.change_reminder",
    "reminders.view_deliveryattempt",
    "reminders.view_inboxmessage",
    "reminders.view_familymessage",
    "reminders.view_pushsubscription",
    "reminders.view_announcement",
    "reminders.view_alert",
    "reminders.view_alertemail",
]
CLINICAL_LEAD_GROUP = "Clinical lead"


def is_operator(user) -> bool:
    """The service's operator: the only kind of account that sees every organization."""
    return bool(user.is_active and user.is_superuser)


def clinical_lead_group():
    """The "Clinical lead" group with CLINICAL_LEAD_PERMISSIONS (created or brought up to date)."""
    group, _ = Group.objects.get_or_create(name=CLINICAL_LEAD_GROUP)
    wanted = Q()
    for name in CLINICAL_LEAD_PERMISSIONS:
        app_label, codename = name.split(".")
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    permissions = list(Permission.objects.filter(wanted))
    missing = set(CLINICAL_LEAD_PERMISSIONS) - {f"{p.content_type.app_label}.{p.codename}" for p in permissions}
    if missing:
        raise LookupError(f"Unknown permissions (run migrate first): {sorted(missing)}")
    group.permissions.set(permissions)
    return group


class ScopedAllValuesFieldListFilter(AllValuesFieldListFilter):
    """Offers the values of the rows the admin shows, also for a field across a relation."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.lookup_choices = (
            model_admin.get_queryset(request).order_by(field_path).values_list(field_path, flat=True).distinct()
        )


class OrganizationScope:
    """The rows of the user's organizations: shared by the model admins and the inlines below."""

    organization_path = "organization"  # e.g. "patient__organization"; "id" on Organization itself
    shared_when_unowned = False  # rows without an organization are readable by all staff

    def organization_filter(self, request, *, editable: bool = False) -> Q | None:
        """The condition on rows this user may see (or change); None for the operator."""
        if is_operator(request.user):
            return None
        mine = Q(**{f"{self.organization_path}__in": staff_organization_ids(request.user)})
        if self.shared_when_unowned and not editable:
            mine |= Q(**{f"{self.organization_path}__isnull": True})
        return mine

    def scoped(self, request, queryset, *, editable: bool = False):
        condition = self.organization_filter(request, editable=editable)
        return queryset if condition is None else queryset.filter(condition)

    def get_queryset(self, request):
        return self.scoped(request, super().get_queryset(request))

    # --- Choosing related rows: select boxes, raw ids and autocompletes validate against these.

    def related_admin(self, model):
        return self.admin_site._registry.get(model)

    def related_choices(self, db_field, request):
        model = db_field.remote_field.model
        queryset = self.get_field_queryset(None, db_field, request)
        if queryset is None:
            queryset = model._default_manager.all()
        related_admin = self.related_admin(model)
        if isinstance(related_admin, OrganizationScope):
            return related_admin.scoped(request, queryset)
        # A model no organization owns (accounts, say): only the operator picks among them.
        return queryset if is_operator(request.user) else queryset.none()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs.setdefault("queryset", self.related_choices(db_field, request))
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if formfield is not None and db_field.name == self.organization_path and not is_operator(request.user):
            formfield.required = True  # rows without an organization are the operator's to make
        return formfield

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs.setdefault("queryset", self.related_choices(db_field, request))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def unscoped_relations(self) -> list[str]:
        """Fields pointing at models no organization owns: shown to staff, changed by the operator."""
        return [
            field.name
            for field in self.model._meta.get_fields()
            if isinstance(field, (models.ForeignKey, models.ManyToManyField))
            and not isinstance(self.related_admin(field.related_model), OrganizationScope)
        ]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not is_operator(request.user):
            fields += [name for name in self.unscoped_relations() if name not in fields]
        return fields


class OrganizationScopedAdmin(AuditedAdmin, OrganizationScope):
    """A ModelAdmin mixin: lists, pages, searches, filters, choices and actions within the user's organizations.

    Use before admin.ModelAdmin: `class PatientAdmin(OrganizationScopedAdmin, admin.ModelAdmin)`.
    Its pages that show patients are audited (prepapp.admin_audit, through `patient_path`).
    """

    # --- One object: out of scope it does not exist, and shared rows are read-only.

    def in_scope(self, request, obj, *, editable: bool = False) -> bool:
        if obj is None or obj.pk is None or is_operator(request.user):
            return True
        # Asked many times for one page (every permission, every inline): once per request.
        answers = request.__dict__.setdefault("_organization_scope", {})
        key = (self.model._meta.label, obj.pk, editable)
        if key not in answers:
            rows = self.model._base_manager.filter(pk=obj.pk)
            answers[key] = self.scoped(request, rows, editable=editable).exists()
        return answers[key]

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and self.in_scope(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self.in_scope(request, obj, editable=True)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self.in_scope(request, obj, editable=True)

    # --- Searching (the autocomplete views search here too) and filtering.

    def get_search_results(self, request, queryset, search_term):
        return super().get_search_results(request, self.scoped(request, queryset), search_term)

    def get_list_filter(self, request):
        return [self.scoped_list_filter(spec) for spec in super().get_list_filter(request)]

    def scoped_list_filter(self, spec):
        """A filter whose choices come from the admin's own rows, not from the whole table."""
        if isinstance(spec, str):
            path, filter_class = spec, None
        elif isinstance(spec, (list, tuple)):
            path, filter_class = spec
        else:
            return spec  # a SimpleListFilter offers the choices its lookups() return
        if filter_class not in (None, RelatedFieldListFilter, AllValuesFieldListFilter):
            return spec
        fields = get_fields_from_path(self.model, path)
        last = fields[-1]
        if last.is_relation:
            return (path, RelatedOnlyFieldListFilter)
        if len(fields) > 1 and (filter_class is AllValuesFieldListFilter or not (
            last.choices or last.get_internal_type() in {"BooleanField", "DateField", "DateTimeField"}
        )):
            return (path, ScopedAllValuesFieldListFilter)
        return spec


class OrganizationScopedInline(OrganizationScope):
    """An inline mixin: its rows and its choices within the user's organizations.

    Whether the inline may change anything is its parent's question: a parent out of reach
    is never shown, and a read-only parent makes its inlines read-only.
    """


class OperatorOnlyAdmin:
    """A ModelAdmin mixin for models no organization owns (groups, API tokens, sign-in records): the operator's."""

    def has_module_permission(self, request):
        return is_operator(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return is_operator(request.user) and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args):
        return is_operator(request.user) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return is_operator(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return is_operator(request.user) and super().has_delete_permission(request, obj)
