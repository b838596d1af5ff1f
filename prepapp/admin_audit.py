"""Every admin page that shows a patient's record, name or login is an audited read.

Each admin names the way from its model to the patient once (`patient_path`: "pk" on Patient,
"patient" on a case or on a login, "checklist__case__patient" on a task), and the mixin below
notes the patients shown wherever the admin shows them: a list page, a record opened (its
history too), changed, added or deleted, a bulk action, a deletion's confirmation page (which
lists every record the deletion would take with it), and the rows an autocomplete offers.
Each entry is written in the same transaction as the read or change it records.
"""

from __future__ import annotations

import functools

from django.contrib import admin
from django.contrib.admin.utils import NestedObjects
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import AutocompleteMixin
from django.contrib.auth import get_user_model
from django.db import router, transaction

from prepapp.audit import audit_record
from prepapp.models import Patient


class AuditedAdmin:
    """A ModelAdmin mixin: the patients whose records a page shows or changes get an audit entry."""

    patient_path: str | None = None  # e.g. "pk" on Patient, "patient", "case__patient"; None: shows no patient

    def patients_of(self, objects) -> list:
        if self.patient_path is None:
            return []
        pks = [obj.pk for obj in objects]
        if self.patient_path == "pk" or not pks:
            return pks
        column = f"{self.patient_path}__pk"
        rows = self.model._base_manager.filter(pk__in=pks).exclude(**{f"{column}__isnull": True})
        return sorted(set(rows.values_list(column, flat=True)))

    def audit(self, request, action: str, objects) -> None:
        patients = self.patients_of(objects)
        if patients:
            audit_record(actor=request.user, patients=patients, action=action, request=request)

    def changelist_view(self, request, extra_context=None):
        # The page's rows are read and their audit entry written in one transaction.
        with transaction.atomic(using=router.db_for_write(self.model)):
            response = super().changelist_view(request, extra_context)
            changelist = (getattr(response, "context_data", None) or {}).get("cl")
            if changelist is not None:
                self.audit(request, "admin-list", list(changelist.result_list))
            return response

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Django opens a transaction for posted forms only; a read and its audit entry need one too.
        with transaction.atomic(using=router.db_for_write(self.model)):
            return super().changeform_view(request, object_id, form_url, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # Inside changeform_view's transaction; also when a form with errors is shown again.
        if obj is not None and not add:
            self.audit(request, "admin-read", [obj])
        offered = offered_patients(context["adminform"].form)
        if offered:
            audit_record(actor=request.user, patients=offered, action="admin-list", request=request)
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def history_view(self, request, object_id, extra_context=None):
        # The history names the record (the patient's name on a patient's) and what was changed in it.
        with transaction.atomic(using=router.db_for_write(self.model)):
            response = super().history_view(request, object_id, extra_context)
            shown = (getattr(response, "context_data", None) or {}).get("object")
            if shown is not None:
                self.audit(request, "admin-history", [shown])
            return response

    def delete_view(self, request, object_id, extra_context=None):
        # Django opens a transaction for the deletion only; the confirmation page is a read too.
        with transaction.atomic(using=router.db_for_write(self.model)):
            return super().delete_view(request, object_id, extra_context)

    def get_deleted_objects(self, objs, request):
        # The confirmation page (of a deletion or of the bulk delete action) lists everything
        # the deletion would take with it: an organization's patients, a login's patient.
        # Once confirmed ("post"), log_deletions notes the deletion itself.
        if not request.POST.get("post"):
            collector = NestedObjects(using=router.db_for_write(self.model))
            collector.collect(list(objs))
            # What the deletion would take, and what protects itself from it: both are listed.
            listed = [obj for instances in collector.data.values() for obj in instances] + list(collector.protected)
            patients = {obj.pk if isinstance(obj, Patient) else getattr(obj, "patient_id", None) for obj in listed} - {None}
            # And the patients the deleted rows themselves name (a held match's candidate, say).
            patients |= set(self.patients_of(list(objs)))
            if patients:
                audit_record(actor=request.user, patients=sorted(patients), action="admin-read", request=request)
        return super().get_deleted_objects(objs, request)

    def log_addition(self, request, obj, message):
        self.audit(request, "admin-add", [obj])
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        self.audit(request, "admin-change", [obj])
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        # Called before the rows go: the entries name the patients, and outlive them.
        self.audit(request, "admin-delete", queryset)
        return super().log_deletions(request, queryset)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if self.patient_path is None:
            return actions
        # delete_selected is audited by log_deletions; every other action changes the selected rows.
        return {
            key: (func if key == "delete_selected" else audited_action(func), name, description)
            for key, (func, name, description) in actions.items()
        }


def offered_patients(form) -> list:
    """The patients a form's select boxes name (a reminder's patient, a checklist's surgery): shown as a list.

    An autocomplete offers nothing until searched; its answers are audited by the view below.
    """
    found = set()
    for field in form.fields.values():
        queryset = getattr(field, "queryset", None)
        widget = getattr(field.widget, "widget", field.widget)
        if queryset is None or isinstance(widget, AutocompleteMixin):
            continue
        if queryset.model is Patient:
            found.update(queryset.values_list("pk", flat=True))
        elif queryset.model is get_user_model():  # a patient's login is named by its patient's email
            found.update(Patient.objects.filter(user__in=queryset).values_list("pk", flat=True))
        elif any(f.name == "patient" and f.related_model is Patient for f in queryset.model._meta.fields):
            found.update(queryset.exclude(patient__isnull=True).values_list("patient", flat=True))
    return sorted(found)


def audited_action(func):
    """A bulk action that notes the selected rows' patients as changed before it runs."""

    @functools.wraps(func)
    def action(modeladmin, request, queryset):
        modeladmin.audit(request, "admin-change", queryset)
        return func(modeladmin, request, queryset)

    return action


class AuditedAutocompleteJsonView(AutocompleteJsonView):
    """The admin's autocomplete: the rows it offers (patients' names, their logins) are a read of their records."""

    def get(self, request, *args, **kwargs):
        self.offered = []
        with transaction.atomic():
            response = super().get(request, *args, **kwargs)
            model_admin = getattr(self, "model_admin", None)
            if self.offered and isinstance(model_admin, AuditedAdmin):
                model_admin.audit(request, "admin-search", self.offered)
            return response

    def serialize_result(self, obj, to_field_name):
        self.offered.append(obj)
        return super().serialize_result(obj, to_field_name)


class AuditedAdminSite(admin.AdminSite):
    """Django's admin site with the audited autocomplete (installed by prepapp.admin_apps.AuditedAdminConfig)."""

    def autocomplete_view(self, request):
        return AuditedAutocompleteJsonView.as_view(admin_site=self)(request)
