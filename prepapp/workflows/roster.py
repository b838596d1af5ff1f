"""The coordinator's roster: who is behind, one row per patient, in a constant number of queries.

A read across all three layers (cases, checklists, reminders), so it sits on top with the workflows.

Every figure is an annotation (correlated subqueries), so reading the roster costs the same
few queries for 3 patients or 3,000. Dates are compared with each patient's own calendar day:
"today" differs between time zones, so it is computed in Python once per zone in use and put
into the query as a CASE over the patient's zone.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime
from functools import reduce
from operator import or_

from django.db.models import (
    Case,
    Count,
    DateField,
    DurationField,
    F,
    FloatField,
    Func,
    IntegerField,
    JSONField,
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

from checklists.models import Checklist, Task
from prepapp.models import Patient, SurgeryCase
from prepapp.reminders.models import Alert, InboxMessage, Reminder
from prepapp.selectors import current_case_ordering, patients_for_staff

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

# What makes a patient need a look, each a condition over the roster's figures (annotations
# of roster_rows). "Alerts only" keeps the patients with any of them; a new kind of alert is
# one more entry here, next to the figure it reads.
ALERTS: dict[str, Q] = {
    "overdue": Q(overdue__gt=0),
    "late": Q(late__gt=0),
    "not_enough_time": Q(not_enough_time__gt=0),
}

# ?status= values: one patient status, several (repeated), or "all".
STATUS_ALL = "all"
STATUS_CHOICES = (*Patient.Status.values, STATUS_ALL)


@dataclass(frozen=True)
class RosterFilters:
    """Which patients the roster shows. The default: the active ones, everything else open."""

    statuses: tuple[str, ...] = (Patient.Status.ACTIVE,)
    surgeon: str = ""
    surgery_from: date | None = None
    surgery_to: date | None = None
    alerts_only: bool = False

    def query(self) -> list[tuple[str, str]]:
        """The filters as query parameters (those that differ from the default), for links that keep them."""
        params = []
        if self.statuses != RosterFilters.statuses:
            all_statuses = set(self.statuses) == set(Patient.Status.values)
            params += [("status", STATUS_ALL)] if all_statuses else [("status", s) for s in self.statuses]
        if self.surgeon:
            params.append(("surgeon", self.surgeon))
        if self.surgery_from:
            params.append(("surgery_from", self.surgery_from.isoformat()))
        if self.surgery_to:
            params.append(("surgery_to", self.surgery_to.isoformat()))
        if self.alerts_only:
            params.append(("alerts", "1"))
        return params

    @property
    def status_choice(self) -> str:
        """The one value a single-choice control shows: a status, or "all"."""
        if set(self.statuses) == set(Patient.Status.values):
            return STATUS_ALL
        return self.statuses[0] if len(self.statuses) == 1 else ""


class InvalidFilter(ValueError):
    """Some filter parameters could not be read: {parameter: message}."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


FILTER_PARAMETERS = ("status", "surgeon", "surgery_from", "surgery_to", "alerts")
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"", "0", "false", "no", "off"}


def parse_filters(params) -> RosterFilters:
    """Read the filters from query parameters (a QueryDict); InvalidFilter names each bad one."""
    errors = {}
    statuses = [value.strip() for value in params.getlist("status") if value.strip()]
    unknown = [value for value in statuses if value not in STATUS_CHOICES]
    if unknown:
        errors["status"] = f"Unknown status “{unknown[0]}”. Use one of: {', '.join(STATUS_CHOICES)}."
    if not statuses:
        chosen = RosterFilters.statuses
    elif STATUS_ALL in statuses:
        chosen = tuple(Patient.Status.values)
    else:
        chosen = tuple(dict.fromkeys(statuses))

    def day(name):
        value = (params.get(name) or "").strip()
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            errors[name] = "Use a date as YYYY-MM-DD."
            return None

    surgery_from, surgery_to = day("surgery_from"), day("surgery_to")
    if surgery_from and surgery_to and surgery_from > surgery_to:
        errors["surgery_to"] = "The end of the range is before its start."
    alerts = (params.get("alerts") or "").strip().lower()
    if alerts not in TRUE_WORDS | FALSE_WORDS:
        errors["alerts"] = "Use 1 (only patients with alerts) or 0."
    surgeon = (params.get("surgeon") or "").strip()
    if len(surgeon) > 200:
        errors["surgeon"] = "At most 200 characters."
    if errors:
        raise InvalidFilter(errors)
    return RosterFilters(
        statuses=chosen, surgeon=surgeon, surgery_from=surgery_from, surgery_to=surgery_to,
        alerts_only=alerts in TRUE_WORDS,
    )


def apply_filters(rows: QuerySet, filters: RosterFilters) -> QuerySet:
    """Narrow roster_rows() to the filters (status is applied there, before the figures)."""
    if filters.surgeon:
        rows = rows.filter(case_surgeon__icontains=filters.surgeon)
    if filters.surgery_from:
        rows = rows.filter(case_date__gte=filters.surgery_from)
    if filters.surgery_to:
        rows = rows.filter(case_date__lte=filters.surgery_to)
    if filters.alerts_only:
        rows = rows.filter(reduce(or_, ALERTS.values()))
    return rows


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


def roster_rows(
    *, user, ordering: str | None = None, now: datetime | None = None, filters: RosterFilters | None = None
) -> QuerySet:
    """The patients of the user's organizations, annotated with the figures of their current surgery.

    Only the patients the filters let through (by default: the active ones, see RosterFilters).

    The current surgery is the scheduled one, or else the latest (done or cancelled). Task
    figures count that surgery's checklist. Overdue tasks are open tasks due before the
    patient's own today that the patient can still act on: preparation steps until the
    surgery day, recovery steps after it (never on a cancelled surgery). Not-enough-time
    tasks are open preparation steps marked so when assigned or moved, until the surgery
    day. Unread messages and failed deliveries count over the patient's whole record.

    A roster is a list, not a read of anyone's record: it leaves no audit entry per row.
    Opening one patient (the detail endpoints and the patient page) is what is audited.
    """
    now = now or timezone.now()
    order_by = parse_ordering(ordering)
    filters = filters or RosterFilters()
    patients = patients_for_staff(user).filter(status__in=filters.statuses)
    # One small query: the zones in use, so that "today" is each patient's own.
    zones = set(patients.order_by().values_list("time_zone", flat=True).distinct())
    local_today = _local_today(zones, now)

    current = SurgeryCase.objects.filter(patient=OuterRef("pk")).order_by(*current_case_ordering())

    def current_field(name, field):
        return Subquery(current.values(name)[:1], output_field=field)

    tasks = Task.objects.filter(checklist__case_id=OuterRef("case_id"))
    open_while_scheduled = tasks.filter(status=Task.Status.OPEN, checklist__case__status=SurgeryCase.Status.SCHEDULED)
    before_surgery = Q(checklist__case__surgery_date__gte=OuterRef("local_today"))
    stages = Checklist.objects.filter(case_id=OuterRef("case_id")).values("protocol_version__recovery_stages")[:1]
    rows = (
        patients.annotate(
            organization_slug=F("organization__slug"),
            local_today=local_today,
            case_id=current_field("id", IntegerField()),
            case_date=current_field("surgery_date", DateField()),
            case_status=current_field("status", SurgeryCase._meta.get_field("status")),
            case_procedure=current_field("procedure", SurgeryCase._meta.get_field("procedure")),
            case_surgeon=current_field("surgeon", SurgeryCase._meta.get_field("surgeon")),
            tasks_total=_count(tasks),
            tasks_done=_count(tasks.filter(status=Task.Status.DONE)),
            overdue=_count(
                tasks.filter(status=Task.Status.OPEN, due_date__lt=OuterRef("local_today")).filter(
                    Q(checklist__case__status=SurgeryCase.Status.SCHEDULED, definition__offset_days__lte=0)
                    & before_surgery
                    | Q(
                        checklist__case__status__in=[SurgeryCase.Status.SCHEDULED, SurgeryCase.Status.DONE],
                        definition__offset_days__gt=0,
                    )
                )
            ),
            not_enough_time=_count(
                tasks.filter(
                    before_surgery,
                    status=Task.Status.OPEN,
                    not_enough_time=True,
                    checklist__case__status=SurgeryCase.Status.SCHEDULED,
                )
            ),
            recovery_stages=Subquery(stages, output_field=JSONField()),
            # Open steps whose time had already passed when they were assigned (or moved).
            late=_count(open_while_scheduled.filter(late=True)),
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
                When(
                    case_status=SurgeryCase.Status.SCHEDULED, case_date__gte=F("local_today"),
                    then=F("case_date") - F("local_today"),
                ),
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
    return apply_filters(rows, filters)


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
        short_of_time=flag(Q(not_enough_time__gt=0)),
    )
    totals = figures.aggregate(
        total=Count("pk"), overdue=Sum("is_overdue"), failed=Sum("has_failed"), not_signed_in=Sum("not_joined"),
        alerts=Sum("has_alert"), not_enough_time=Sum("short_of_time"),
    )
    return {name: value or 0 for name, value in totals.items()}

