"""Coordinator pages: the roster, enrolment and one patient's page (sign-in: frontend.sign_in_views).

The pages are rendered here; every change (enrol, book, move, cancel, assign) goes through
the REST API from the page's ES module, with the session cookie and the CSRF token, so the
rules and error messages live in one place: the services behind the API.
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie

from checklists import schedule
from checklists.models import Checklist, Task
from prepapp import two_factor
from prepapp.audit import audit_record
from prepapp.facts import FACTS
from prepapp.models import Patient, StaffMembership, SurgeryCase
from prepapp.permissions import staff_organizations
from prepapp.procedures import Approach
from prepapp.reminders import escalation
from prepapp.reminders.models import Alert, DeliveryAttempt, Reminder
from prepapp.selectors import caregiver_links_of, cases_current_first, cases_for_staff, patients_for_staff
from prepapp.workflows import roster, roster_payload

from .modules import COORDINATOR_PAGES, import_map, module_urls

ROSTER_PAGE_SIZE = 100

# The zones a coordinator picks most; any other IANA name can be typed in.
COMMON_TIME_ZONES = [
    "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
    "America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico", "America/Mexico_City", "America/Bogota",
    "America/Lima", "America/Santiago", "America/Argentina/Buenos_Aires", "America/Sao_Paulo",
    "Europe/London", "Europe/Madrid", "Europe/Paris", "Europe/Berlin", "UTC",
]


def staff_required(view):
    """Anonymous visitors sign in first; signed-in people outside every care team are refused (403)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("coordinator:login"))
        memberships = list(StaffMembership.objects.filter(user=request.user).select_related("organization"))
        if not memberships:
            return render(request, "frontend/coordinator/not_staff.html", status=403)
        if two_factor.second_factor_required(request.user, memberships) and not request.user.is_verified():
            # A session begun without the second factor it now needs (the organization has
            # just asked for one, or it began before): signing in again asks for it.
            logout(request)
            return redirect_to_login(request.get_full_path(), reverse("coordinator:login"))
        request.memberships = memberships
        request.leads_a_team = any(m.role == StaffMembership.Role.CLINICAL_LEAD for m in memberships)
        return view(request, *args, **kwargs)

    return ensure_csrf_cookie(never_cache(wrapper))


def _page_context(request, **extra):
    return {
        "memberships": request.memberships,
        "import_map": import_map(COORDINATOR_PAGES),
        "modules": module_urls(COORDINATOR_PAGES),
        **extra,
    }


ORDERING_COLUMNS = [
    # (ordering name, column heading)
    ("name", gettext_lazy("Patient")),
    # Before surgery the days to go; after it the week of recovery and its stage. Sorted by the
    # days to surgery: the soonest first, then those recovering.
    ("days_to_surgery", gettext_lazy("Where")),
    ("share_done", gettext_lazy("Done")),
    ("overdue", gettext_lazy("Overdue")),
    ("failed", gettext_lazy("Failed deliveries")),
]


def _sort_headers(current: str) -> dict:
    """For each sortable column: the link that sorts by it, and its aria-sort state."""
    headers = {}
    for name, label in ORDERING_COLUMNS:
        if current == name:
            state, next_ordering = "ascending", f"-{name}"
        elif current == f"-{name}":
            state, next_ordering = "descending", name
        else:
            state, next_ordering = "none", name
        headers[name] = {"label": label, "aria_sort": state, "ordering": next_ordering}
    return headers


def _surgeon_choices(user) -> list[str]:
    """The surgeons named on the organization's surgeries, for the filter's suggestions."""
    names = (
        cases_for_staff(user)
        .exclude(surgeon="")
        .order_by("surgeon")
        .values_list("surgeon", flat=True)
        .distinct()[:200]
    )
    return list(dict.fromkeys(name.strip() for name in names))


STATUS_FILTER_CHOICES = [
    ("active", gettext_lazy("Active")),
    ("discharged", gettext_lazy("Discharged")),
    ("archived", gettext_lazy("Archived")),
    (roster.STATUS_ALL, gettext_lazy("All")),
]


@staff_required
def roster_page(request):
    """Who is behind: the roster, filtered and sortable by column. Each patient shown gets a "list" audit entry."""
    ordering = request.GET.get("ordering") or roster.DEFAULT_ORDERING
    filter_errors = {}
    try:
        filters = roster.parse_filters(request.GET)
    except roster.InvalidFilter as exc:
        # The page still shows the roster (unfiltered), with each unreadable filter named.
        filters, filter_errors = roster.RosterFilters(), exc.errors
    try:
        rows = roster.roster_rows(user=request.user, ordering=ordering, filters=filters)
    except roster.UnknownOrdering:
        ordering = roster.DEFAULT_ORDERING
        rows = roster.roster_rows(user=request.user, ordering=ordering, filters=filters)
    with transaction.atomic():
        page = Paginator(rows, ROSTER_PAGE_SIZE).get_page(request.GET.get("page"))
        payloads = [roster_payload.row_payload(row) for row in page.object_list]
        audit_record(actor=request.user, patients=page.object_list, action="list", request=request)
    behind = roster.roster_summary(rows)
    filter_query = urlencode(filters.query())
    filtered = filters != roster.RosterFilters()
    return render(
        request,
        "frontend/coordinator/roster.html",
        _page_context(
            request, nav="roster", rows=payloads, page=page, ordering=ordering, headers=_sort_headers(ordering),
            behind=behind, filters=filters, filtered=filtered, filter_errors=filter_errors,
            filter_query=filter_query, status_choices=STATUS_FILTER_CHOICES, surgeons=_surgeon_choices(request.user),
            csv_url=f"{reverse('roster-csv')}?{urlencode([('ordering', ordering), *filters.query()])}",
            any_patients=bool(payloads)
            or patients_for_staff(request.user).exists(),
        ),
    )


def _time_zone_choices(current: str | None = None) -> list[str]:
    zones = list(COMMON_TIME_ZONES)
    if current and current not in zones:
        zones.insert(0, current)
    return zones


def _labels() -> dict:
    """The words the page's script shows, translated here so that one catalog serves both."""
    return {
        "groups": {
            "overdue": _("Overdue"),
            "this_week": _("This week"),
            "coming_up": _("Coming up"),
            "done": _("Done"),
        },
        "status": {"open": _("To do"), "done": _("Done"), "scheduled": _("Scheduled"), "cancelled": _("Cancelled")},
        "task": _("Task"),
        "category": _("Category"),
        "due": _("Due"),
        "window": _("Window"),
        "state": _("Status"),
        "late": _("assigned late"),
        "no_checklist": _("No protocol has been assigned to this surgery yet."),
        "no_tasks": _("Nothing here."),
        "checklist_error": _("The checklist could not be loaded."),
        "deliveries_unavailable": _("The delivery log is not available yet."),
        "deliveries_empty": _("No reminder has been sent yet."),
        "deliveries_error": _("The delivery log could not be loaded."),
        "when": _("When"),
        "channel": _("Channel"),
        "outcome": _("Outcome"),
        "detail": _("Detail"),
        "possible_duplicate": _("possibly sent twice"),
        "opened": _("opened %(when)s"),
        "saving": _("Saving…"),
        "network_error": _("The server could not be reached. Check the connection and try again."),
        "server_error": _("Something went wrong on the server (%(status)s). Please try again."),
        "moved": _("The surgery was moved to %(date)s. Task dates have been updated."),
        "days_one": _("%(count)s day"),
        "days_many": _("%(count)s days"),
        "today": _("today"),
        "protocol_loading": _("Loading protocols…"),
        "protocol_none": _("No protocol is available to your organization."),
        "channels": {value: str(label) for value, label in Reminder.Channel.choices},
        "outcomes": {value: str(label) for value, label in DeliveryAttempt.Outcome.choices},
        "reminder_statuses": {value: str(label) for value, label in Reminder.Status.choices},
        "reminders_summary": _("Reminders planned for this patient, by status:"),
        "show_more": _("Show older attempts"),
        "task_count": _("%(count)s tasks"),
        "conditional": _("if it applies"),
        "conditional_hint": _("Waiting on a fact not known yet: %(facts)s"),
        "facts_saved": _("Health facts saved."),
        "facts_unchanged": _("Nothing changed."),
        "facts_added": _("Added to the checklist: %(steps)s."),
        "facts_removed": _("Taken off the checklist: %(steps)s."),
        "facts_kept": _("Kept, because the patient wrote notes in them: %(steps)s."),
        "facts_same_steps": _("The checklist stays the same."),
        "facts_messaged": _("The patient has a message in the app about it."),
        "fact_labels": {name: str(label) for name, label in FACTS.items()},
        "duplicate_same_email": _("same email"),
        "duplicate_same_birth": _("same date of birth"),
        "duplicate_born": _("born %(date)s"),
        "duplicate_enrolled": _("enrolled %(date)s"),
        "patient_statuses": {value: str(label) for value, label in Patient.Status.choices},
        "invitation_emailed": _(
            "A new invitation was emailed to %(email)s. It works until %(date)s; earlier codes no longer work."
        ),
        "too_many_emails": _("Too many invitations were emailed to this patient within the hour. Try again later."),
        "not_enough_time": _("not enough time"),
        "rule_until_lifted": _("Until lifted"),
        "rule_ends": _("Ends %(date)s"),
        "rule_lifted": _("Lifted"),
        "rule_lifted_by": _("Lifted by %(who)s on %(when)s. The patient no longer sees it."),
        "rules_none": _("No rule is in force today."),
        "lift": _("Lift…"),
        "lift_note": _("Note (optional): who allowed it, or why"),
        "lift_confirm": _("Lift “%(title)s”? The patient will be told it no longer applies."),
        "lift_yes": _("Yes, lift it"),
        "lift_keep": _("Keep it"),
        "reinstate": _("Reinstate"),
        "rule_lifted_note": _("Lifted: %(title)s."),
        "rule_reinstated": _("In force again: %(title)s."),
        "safety_error": _("The rules and check-ins could not be loaded."),
        "pain_trend": _("Pain from 0 to 10, by day after surgery:"),
        "back_pain": _("Back pain"),
        "leg_pain": _("Leg pain"),
        "day": _("Day"),
        "day_short": _("d%(day)s"),
        "day_long": _("Day %(day)s"),
        "urgency_emergency": _("Emergency"),
        "urgency_call_today": _("Call today"),
        "urgency_none": _("No warning sign"),
        "red_flags": _("Warning signs"),
        "check_ins_none": _("No check-in yet."),
        "restart_title": _("Blood thinner restart"),
        "restart_open": _("Not confirmed yet; due %(date)s."),
        "restart_done": _("Confirmed by the patient on %(when)s."),
        "described": _("Saved: the patient's “About your surgery” now shows %(operation)s."),
        "described_none": _("Saved: no approach or level noted."),
    }


def _facts(patient: Patient | None = None) -> list[dict]:
    """The facts a coordinator sets (yes, no, not known yet), with the patient's values if any."""
    return [
        {"name": name, "label": label, "value": getattr(patient, name) if patient else None}
        for name, label in FACTS.items()
    ]


@staff_required
def enrol_page(request):
    """Enrol a patient, book the surgery, assign the protocol, then hand over the invitation."""
    return render(
        request,
        "frontend/coordinator/enrol.html",
        _page_context(
            request,
            nav="enrol",
            time_zones=_time_zone_choices(),
            languages=Patient.Language.choices,
            today=timezone.localdate(),
            several_organizations=staff_organizations(request.user).count() > 1,
            facts=_facts(),
            labels=_labels(),
        ),
    )


def staff_patient(request, pk: int) -> Patient:
    patient = (
        patients_for_staff(request.user).filter(pk=pk)
        .select_related("organization")
        .first()
    )
    if patient is None:
        raise Http404(_("No such patient."))
    return patient


@staff_required
def patient_page(request, pk: int, *, alert_errors: dict | None = None, status: int = 200):
    """One patient: details, alerts, surgery, checklist and delivery log. Opening it is an audited read."""
    patient = staff_patient(request, pk)
    audit_record(actor=request.user, patients=[patient], action="read", request=request)
    cases = list(cases_current_first(patient))
    current = cases[0] if cases else None
    checklist = Checklist.objects.filter(case=current).select_related("protocol_version__protocol").first()
    today = patient.local_today()
    phase = None
    if current:
        phase = schedule.case_phase(status=current.status, surgery_date=current.surgery_date, today=today)
    # The surgery can be marked done from its day on (its date where the patient lives).
    can_complete = phase is not None and current.status == SurgeryCase.Status.SCHEDULED and current.surgery_date <= today
    recovery = None
    if phase == schedule.RECOVERY:
        day = max(0, (today - current.surgery_date).days)
        version = checklist.protocol_version if checklist else None
        stage = schedule.current_stage(version.recovery_stages, day) if version else None
        language = (translation.get_language() or "en").split("-")[0]
        recovery = {
            "day": day,
            "week": schedule.recovery_week(day),
            "stage": version.localized_stage(stage, language) if stage else "",
        }
    short_of_time = []
    if checklist and current.status == SurgeryCase.Status.SCHEDULED and current.surgery_date >= today:
        # Steps whose minimum lead time could not be met when assigned or moved: the patient is
        # told to call; the coordinator sees them here and may rather call first.
        short_of_time = list(
            checklist.tasks.filter(not_enough_time=True, status=Task.Status.OPEN)
            .select_related("definition")
            .order_by("due_date", "position")
        )
    return render(
        request,
        "frontend/coordinator/patient.html",
        _page_context(
            request,
            patient=patient,
            case=current,
            scheduled=current is not None and current.status == SurgeryCase.Status.SCHEDULED,
            days_to_surgery=(current.surgery_date - today).days if current else None,
            phase=phase,
            recovery=recovery,
            can_complete=can_complete,
            short_of_time=short_of_time,
            checklist=checklist,
            earlier_cases=cases[1:],
            patient_today=today,
            facts=_facts(patient),
            labels=_labels(),
            approaches=Approach.choices,
            alerts=Alert.objects.filter(patient=patient).select_related("task__definition", "acknowledged_by")[:20],
            alert_errors=alert_errors or {},
            note_max_length=escalation.NOTE_MAX_LENGTH,
            caregivers=list(caregiver_links_of(patient)),
        ),
        status=status,
    )


@staff_required
def acknowledge_alert(request, pk: int, alert_id: int):
    """Acknowledge one of the patient's alerts with a note (POST from the patient's page); audited."""
    if request.method != "POST":
        return redirect(reverse("coordinator:patient", args=[pk]) + "#alerts")
    patient = staff_patient(request, pk)
    alert = Alert.objects.filter(pk=alert_id, patient=patient).first()
    if alert is None:
        raise Http404(_("No such alert."))
    try:
        escalation.alert_acknowledge(alert=alert, by=request.user, note=request.POST.get("note", ""), request=request)
    except ValidationError as exc:
        errors = [str(m) for messages in exc.message_dict.values() for m in messages]
        return patient_page(request, pk, alert_errors={alert.id: errors}, status=400)
    return redirect(reverse("coordinator:patient", args=[pk]) + "#alerts")
