"""The coordinator's roster: who is behind, one row per patient, in a constant number of queries.

A read across all three layers (cases, checklists, reminders), so it sits on top with the workflows.

Every figure is an annotation (correlated subqueries), so reading the roster costs the same
few queries for 3 patients or 3,000. Dates are compared with each patient's own calendar day:
"today" differs between time zones, so it is computed in Python once per zone in use and put
into the query as a CASE over the patient's zone.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from django.db.models import (
    Case,
    Count,
    DateField,
    DurationField,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from checklists.models import Task

from .models import Patient, SurgeryCase
from .permissions import staff_organization_ids
from .reminders.models import Alert, InboxMessage, Reminder
from .selectors import current_case_ordering

# The public names of the orderings and the annotations they sort by. Missing figures
# (no surgery, no checklist) always sort last, whichever the direction.
ORDERINGS = {
    "days_to_surgery": "until_surgery",
    "overdue": "overdue",
    "share_done": "share_done",
    "name": "full_name",
    "failed": "failed_deliveries",
}
DEFAULT_ORDERING = "days_to_surgery"


class UnknownOrdering(ValueError):
    """The requested ordering is not one of ORDERINGS (with or without a leading "-")."""


def _count(queryset: QuerySet) -> Coalesce:
    # COUNT(*) of a correlated subquery, without GROUP BY: one row, zero when nothing matches.
    counted = queryset.order_by().annotate(_n=Func(Value(1), function="COUNT")).values("_n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _local_today(zones: set[str], now: datetime) -> Case:
    """The patient's calendar date now, as an SQL expression over the patient's time zone."""
    whens = []
    for zone in sorted(zones):
        try:
            local = now.astimezone(zoneinfo.ZoneInfo(zone)).date()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue  # an unknown zone falls back to UTC, as the default below
        whens.append(When(time_zone=zone, then=Value(local)))
    return Case(*whens, default=Value(now.astimezone(zoneinfo.ZoneInfo("UTC")).date()), output_field=DateField())


def parse_ordering(value: str | None) -> list:
    """Turn "?ordering=-overdue" into order_by() expressions; raise UnknownOrdering for anything else."""
    value = (value or DEFAULT_ORDERING).strip()
    descending = value.startswith("-")
    name = value[1:] if descending else value
    if name not in ORDERINGS:
        raise UnknownOrdering(value)
    field = F(ORDERINGS[name])
    primary = field.desc(nulls_last=True) if descending else field.asc(nulls_last=True)
    return [primary, F("full_name").asc(), F("id").asc()]


def roster_rows(*, user, ordering: str | None = None, now: datetime | None = None) -> QuerySet:
    """The patients of the user's organizations, annotated with the figures of their current surgery.

    The current surgery is the scheduled one, or else the latest (done or cancelled). Task
    figures count that surgery's checklist; overdue tasks are open tasks due before the
    patient's own today, and only while the surgery is scheduled. Unread messages and failed
    deliveries count over the patient's whole record.

    A roster is a list, not a read of anyone's record: it leaves no audit entry per row.
    Opening one patient (the detail endpoints and the patient page) is what is audited.
    """
    now = now or timezone.now()
    order_by = parse_ordering(ordering)
    patients = Patient.objects.filter(organization_id__in=staff_organization_ids(user))
    # One small query: the zones in use, so that "today" is each patient's own.
    zones = set(patients.order_by().values_list("time_zone", flat=True).distinct())
    local_today = _local_today(zones, now)

    current = SurgeryCase.objects.filter(patient=OuterRef("pk")).order_by(*current_case_ordering())

    def current_field(name, field):
        return Subquery(current.values(name)[:1], output_field=field)

    tasks = Task.objects.filter(checklist__case_id=OuterRef("case_id"))
    return (
        patients.annotate(
            organization_slug=F("organization__slug"),
            local_today=local_today,
            case_id=current_field("id", IntegerField()),
            case_date=current_field("surgery_date", DateField()),
            case_status=current_field("status", SurgeryCase._meta.get_field("status")),
            case_procedure=current_field("procedure", SurgeryCase._meta.get_field("procedure")),
            tasks_total=_count(tasks),
            tasks_done=_count(tasks.filter(status=Task.Status.DONE)),
            overdue=_count(
                tasks.filter(
                    status=Task.Status.OPEN,
                    checklist__case__status=SurgeryCase.Status.SCHEDULED,
                    due_date__lt=OuterRef("local_today"),
                )
            ),
            unread=_count(InboxMessage.objects.filter(patient=OuterRef("pk"), read_at__isnull=True)),
            failed_deliveries=_count(
                Reminder.objects.filter(patient=OuterRef("pk"), status=Reminder.Status.FAILED)
            ),
            # Critical steps overdue long enough to alert the care team, not yet acknowledged.
            open_alerts=_count(Alert.objects.filter(patient=OuterRef("pk"), acknowledged_at__isnull=True)),
        )
        .annotate(
            # Days as a plain integer only exist on some databases; the difference of two dates
            # is a duration everywhere, and sorts the same.
            until_surgery=Case(
                When(case_status=SurgeryCase.Status.SCHEDULED, then=F("case_date") - F("local_today")),
                default=None,
                output_field=DurationField(),
            ),
            share_done=Case(
                When(tasks_total=0, then=None),
                default=Cast("tasks_done", FloatField()) / Cast("tasks_total", FloatField()),
                output_field=FloatField(),
            ),
        )
        .select_related(None)
        .order_by(*order_by)
    )


def roster_summary(rows: QuerySet) -> dict:
    """How many of the roster's patients are behind, over the whole roster (not one page), in one query."""
    def flag(condition):
        return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())

    # Flags first, then sums over them: the figures are subqueries, which an aggregate's
    # filter cannot name directly once Django wraps the annotated query.
    figures = rows.order_by().annotate(
        is_overdue=flag(Q(overdue__gt=0)),
        has_failed=flag(Q(failed_deliveries__gt=0)),
        has_alert=flag(Q(open_alerts__gt=0)),
        not_joined=flag(Q(invitation_accepted_at__isnull=True)),
    )
    totals = figures.aggregate(
        total=Count("pk"), overdue=Sum("is_overdue"), failed=Sum("has_failed"), not_signed_in=Sum("not_joined"),
        alerts=Sum("has_alert"),
    )
    return {name: value or 0 for name, value in totals.items()}


def days_to_surgery(row: Patient) -> int | None:
    """Whole days from the patient's today to the scheduled surgery (None without one)."""
    return row.until_surgery.days if row.until_surgery is not None else None


def row_payload(row: Patient) -> dict:
    """One roster row as the API and the page show it."""
    case = None
    if row.case_id is not None:
        case = {
            "id": row.case_id,
            "surgery_date": row.case_date,
            "status": row.case_status,
            "procedure": row.case_procedure,
        }
    return {
        "id": row.pk,
        "full_name": row.full_name,
        "organization": row.organization_slug,
        "time_zone": row.time_zone,
        "today": row.local_today,
        "case": case,
        "days_to_surgery": days_to_surgery(row),
        "tasks_total": row.tasks_total,
        "tasks_done": row.tasks_done,
        "share_done": round(row.share_done, 4) if row.share_done is not None else None,
        "overdue": row.overdue,
        "unread": row.unread,
        "failed_deliveries": row.failed_deliveries,
        "open_alerts": row.open_alerts,
        "invitation_accepted": row.invitation_accepted_at is not None,
        "invitation_accepted_at": row.invitation_accepted_at,
    }


