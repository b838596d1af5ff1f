"""The shape of the payloads the phone and the pages show, described for the API's schema (checklists.payloads builds them)."""


from rest_framework import serializers

from checklists import schedule
from checklists.models import Category, Task
from prepapp.facts import FACT_NAMES
from prepapp.lib.schema import LocalTimeField
from prepapp.models import SurgeryCase
from prepapp.procedures import Approach

# --- The payloads the phone and the pages show ------------------------------------------------
# Built as plain dicts by the functions below (one query for a whole checklist); the
# serializers describe them for the API's schema.


class TaskSubItemSerializer(serializers.Serializer):
    key = serializers.SlugField()
    text = serializers.CharField(help_text="In the requested language.")
    answer = serializers.CharField(allow_blank=True, help_text="The patient's answer; empty until given.")


class TaskTargetSerializer(serializers.Serializer):
    """A figure worked out for the patient, e.g. grams of protein a day for their weight."""

    key = serializers.SlugField()
    label = serializers.CharField()
    text = serializers.CharField(help_text="The figure as shown, e.g. “84–112 g/day”.")
    unit = serializers.CharField()
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    value = serializers.FloatField(allow_null=True)


class TaskConditionSerializer(serializers.Serializer):
    """One condition of a step that reads a fact not known yet for the patient."""

    fact = serializers.ChoiceField(choices=FACT_NAMES)
    applies_when = serializers.BooleanField(help_text="The step applies when the fact turns out to be this.")


class TaskShownAnswerSerializer(serializers.Serializer):
    key = serializers.CharField()
    text = serializers.CharField(help_text="The other step's question, in the requested language.")
    answer = serializers.CharField(allow_blank=True, help_text="Empty until the patient has answered it.")


class TaskSerializer(serializers.Serializer):
    """One step as the phone shows it (task_payload): texts in the patient's language, personal figures."""

    id = serializers.IntegerField()
    key = serializers.SlugField()
    category = serializers.ChoiceField(choices=Category.choices)
    category_label = serializers.CharField()
    phase = serializers.ChoiceField(
        choices=[schedule.PREPARATION, schedule.RECOVERY],
        help_text="preparation for a step due on or before the surgery day, recovery for one after it.",
    )
    title = serializers.CharField()
    instructions = serializers.CharField()
    why = serializers.CharField(allow_blank=True)
    source_section = serializers.CharField(allow_blank=True)
    due_date = serializers.DateField(help_text="Calendar date in the patient's time zone.")
    window_start = serializers.DateField(allow_null=True)
    window_end = serializers.DateField(allow_null=True)
    days_until_due = serializers.IntegerField(help_text="Negative once the due day has passed.")
    weeks_until_due = serializers.IntegerField(help_text="Whole weeks from today to the due day; 0 is this week.")
    late = serializers.BooleanField(help_text="Its window had already closed when it was assigned or moved.")
    start_now = serializers.BooleanField(
        help_text="Its planned day had passed when it was assigned or moved, but its window is open: "
        "it is due within a few days instead. False once done or once that new due day has passed."
    )
    not_enough_time = serializers.BooleanField(
        help_text="Open, before surgery, and when it was assigned or moved fewer days were left than its "
        "minimum lead time: the patient is asked to call the care team."
    )
    min_lead_days = serializers.IntegerField(
        allow_null=True, help_text="Days before surgery the step needs to work (e.g. 42 smoke-free); null when none."
    )
    lead_reason = serializers.CharField(
        allow_blank=True, help_text="Why the minimum lead time matters, in the requested language."
    )
    group = serializers.ChoiceField(choices=schedule.GROUPS, help_text="The section of the home screen it is in.")
    status = serializers.ChoiceField(choices=Task.Status.choices)
    completed_at = serializers.DateTimeField(allow_null=True)
    ticked_off_by = serializers.CharField(
        allow_null=True, help_text="The caregiver who ticked the step off, e.g. “Ana (daughter)”; null for the patient."
    )
    note = serializers.CharField(allow_blank=True)
    sub_items = TaskSubItemSerializer(many=True)
    targets = TaskTargetSerializer(many=True)
    conditional = serializers.BooleanField(
        help_text="On the list because a fact its condition reads is not known yet: show it as "
        "“if this applies to you”."
    )
    conditional_on = TaskConditionSerializer(
        many=True,
        help_text="The conditions waiting on a fact not known yet, e.g. [{\"fact\": \"smoker\", \"applies_when\": true}] "
        "(“if you smoke”); empty when not conditional.",
    )
    stop_today = serializers.BooleanField(
        help_text="An open stop (a medicine or a habit) from its due day up to the surgery day: tell the patient "
        "to stop today, in stop_today_text's words."
    )
    stop_today_text = serializers.CharField(allow_blank=True, help_text="In the requested language; empty for other steps.")
    shown_answers = TaskShownAnswerSerializer(
        many=True, help_text="Another step's answers this one shows (the blood thinner plan's restart day and how)."
    )


class RecoveryStageSerializer(serializers.Serializer):
    """A stage of the recovery, by days after surgery, from the protocol."""

    key = serializers.SlugField()
    label = serializers.CharField(help_text="In the requested language, e.g. “Weeks 3–6: physical therapy, …”.")
    start_day = serializers.IntegerField(help_text="Its first day after surgery (1 is the day after).")
    end_day = serializers.IntegerField(help_text="Its last day after surgery.")


class CaseSummarySerializer(serializers.Serializer):
    """A surgery as the patient sees it (case_payload), with the countdown, or after it the recovery."""

    id = serializers.IntegerField()
    procedure = serializers.CharField(help_text="In the patient's language when the protocol translates it.")
    surgeon = serializers.CharField(allow_blank=True)
    approach = serializers.ChoiceField(
        choices=Approach.choices, allow_null=True, help_text="The way in the surgeon plans, when the care team has entered it."
    )
    level = serializers.CharField(allow_null=True, help_text="The level fused, e.g. “L4–L5”, when entered.")
    surgery_date = serializers.DateField(help_text="Calendar date in the patient's time zone.")
    surgery_time = LocalTimeField(allow_null=True)
    arrival_time = LocalTimeField(allow_null=True, help_text="When to arrive at the hospital, if known.")
    status = serializers.ChoiceField(choices=SurgeryCase.Status.choices)
    days_to_surgery = serializers.IntegerField(help_text="From the patient's today; negative once it has passed.")
    phase = serializers.ChoiceField(
        choices=[schedule.PREPARATION, schedule.RECOVERY], allow_null=True,
        help_text="preparation until the surgery day; recovery once the surgery is marked done or its day has "
        "passed; null when cancelled.",
    )
    days_after_surgery = serializers.IntegerField(
        allow_null=True, help_text="In recovery: days since the surgery day (1 is the day after); else null."
    )
    recovery_week = serializers.IntegerField(
        allow_null=True, help_text="In recovery: the week of recovery (days 1–7 are week 1); else null."
    )
    recovery_stage = RecoveryStageSerializer(
        allow_null=True, help_text="In recovery: the protocol's stage for today; null before, or after the last stage."
    )


class PreparationWeeksSerializer(serializers.Serializer):
    min = serializers.IntegerField()
    max = serializers.IntegerField()


class ChecklistProtocolSerializer(serializers.Serializer):
    key = serializers.SlugField()
    name = serializers.CharField()
    version = serializers.IntegerField()
    procedure = serializers.CharField(help_text="The protocol's procedure, in the requested language.")
    preparation_weeks = PreparationWeeksSerializer(
        allow_null=True, help_text="How many weeks before surgery the preparation takes; null when not given."
    )
    summary = serializers.CharField(allow_blank=True, help_text="In the requested language.")
    recovery_stages = RecoveryStageSerializer(many=True, help_text="The stages of the recovery, in order.")


class ChecklistCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    overdue = serializers.IntegerField()
    this_week = serializers.IntegerField()
    not_enough_time = serializers.IntegerField(help_text="Open steps whose minimum lead time cannot be met.")


class ChecklistGroupsSerializer(serializers.Serializer):
    overdue = TaskSerializer(many=True)
    this_week = TaskSerializer(many=True)
    coming_up = TaskSerializer(many=True)
    done = TaskSerializer(many=True, help_text="Most recently done first.")


class ChecklistSerializer(serializers.Serializer):
    """The whole checklist grouped for a phone (checklist_payload)."""

    id = serializers.IntegerField()
    today = serializers.DateField(help_text="Today's date in the patient's time zone.")
    time_zone = serializers.CharField(help_text="The patient's IANA time zone, e.g. America/New_York.")
    case = CaseSummarySerializer()
    protocol = ChecklistProtocolSerializer()
    counts = ChecklistCountsSerializer()
    groups = ChecklistGroupsSerializer()


# --- The checklist in two parts (checklists.checklist_parts) -----------------------------------


class TaskStateTargetSerializer(serializers.Serializer):
    """A figure worked out for the patient; its label is in the texts (`target_labels`)."""

    key = serializers.SlugField()
    text = serializers.CharField(help_text="The figure as shown, e.g. “84–112 g/day”.")
    unit = serializers.CharField()
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    value = serializers.FloatField(allow_null=True)


class TaskStateSerializer(serializers.Serializer):
    """One step's own state: TaskSerializer's fields that are the patient's, its words found by `key` in the texts.

    A field not required here is left out while it has its usual value: null for the dates and
    names, false, an empty text, list or object.
    """

    id = serializers.IntegerField()
    key = serializers.SlugField(help_text="The step's entry in the texts' `steps`.")
    due_date = serializers.DateField(help_text="Calendar date in the patient's time zone.")
    window_start = serializers.DateField(required=False)
    window_end = serializers.DateField(required=False)
    days_until_due = serializers.IntegerField(help_text="Negative once the due day has passed.")
    weeks_until_due = serializers.IntegerField(help_text="Whole weeks from today to the due day; 0 is this week.")
    late = serializers.BooleanField(required=False)
    start_now = serializers.BooleanField(required=False)
    not_enough_time = serializers.BooleanField(required=False)
    group = serializers.ChoiceField(choices=schedule.GROUPS)
    status = serializers.ChoiceField(choices=Task.Status.choices)
    completed_at = serializers.DateTimeField(required=False)
    ticked_off_by = serializers.CharField(required=False)
    note = serializers.CharField(required=False)
    answers = serializers.DictField(
        child=serializers.CharField(), required=False,
        help_text="The patient's answers by sub-item key; a sub-item not answered is left out.",
    )
    targets = TaskStateTargetSerializer(many=True, required=False)
    conditional = serializers.BooleanField(required=False)
    conditional_on = TaskConditionSerializer(many=True, required=False)
    stop_today = serializers.BooleanField(required=False)
    shown_answers = TaskShownAnswerSerializer(many=True, required=False)


class TaskStateGroupsSerializer(serializers.Serializer):
    overdue = TaskStateSerializer(many=True)
    this_week = TaskStateSerializer(many=True)
    coming_up = TaskStateSerializer(many=True)
    done = TaskStateSerializer(many=True, help_text="Most recently done first.")


class ChecklistStateProtocolSerializer(serializers.Serializer):
    key = serializers.SlugField()
    version = serializers.IntegerField()


class ChecklistStateSerializer(serializers.Serializer):
    """The patient's own part of the checklist; with the texts at `texts_url` it is ChecklistSerializer's answer."""

    id = serializers.IntegerField()
    today = serializers.DateField(help_text="Today's date in the patient's time zone.")
    time_zone = serializers.CharField()
    texts_url = serializers.CharField(
        help_text="Where the steps' words are, in the language asked for; a new address whenever they change."
    )
    protocol = ChecklistStateProtocolSerializer()
    case = CaseSummarySerializer()
    counts = ChecklistCountsSerializer()
    groups = TaskStateGroupsSerializer()


class TaskSubItemTextSerializer(serializers.Serializer):
    key = serializers.SlugField()
    text = serializers.CharField()


class StepTextsSerializer(serializers.Serializer):
    """A step's words in the language, the same for every patient on the version."""

    key = serializers.SlugField()
    category = serializers.ChoiceField(choices=Category.choices)
    category_label = serializers.CharField()
    phase = serializers.ChoiceField(choices=[schedule.PREPARATION, schedule.RECOVERY])
    title = serializers.CharField()
    instructions = serializers.CharField()
    why = serializers.CharField(allow_blank=True)
    source_section = serializers.CharField(allow_blank=True)
    min_lead_days = serializers.IntegerField(allow_null=True)
    lead_reason = serializers.CharField(allow_blank=True)
    stop_today_text = serializers.CharField(allow_blank=True)
    sub_items = TaskSubItemTextSerializer(many=True)
    target_labels = serializers.DictField(child=serializers.CharField(), help_text="Each target's label by its key.")


class ChecklistTextsSerializer(serializers.Serializer):
    """A protocol version's words in a language (checklist_texts)."""

    language = serializers.CharField()
    protocol = ChecklistProtocolSerializer()
    steps = serializers.DictField(child=StepTextsSerializer(), help_text="Every step of the version, by key.")


# --- About your surgery (checklists.about) ------------------------------------------------------


class AboutRowSerializer(serializers.Serializer):
    """A row of a page's table: minimally invasive against open surgery."""

    key = serializers.SlugField()
    label = serializers.CharField()
    minimally_invasive = serializers.CharField()
    open = serializers.CharField()


class AboutPageSerializer(serializers.Serializer):
    """One topic, in the requested language, with the guide section it comes from."""

    key = serializers.SlugField()
    title = serializers.CharField()
    paragraphs = serializers.ListField(child=serializers.CharField())
    source_section = serializers.CharField(help_text="The part of the patient guide the page comes from.")
    approach = serializers.ChoiceField(choices=Approach.choices, allow_null=True,
                                       help_text="The approach the page is about; null for the other pages.")
    table = AboutRowSerializer(many=True)
    stages = RecoveryStageSerializer(many=True, help_text="Recovery stages the page lists, in order.")


class GlossaryEntrySerializer(serializers.Serializer):
    key = serializers.SlugField()
    term = serializers.CharField()
    text = serializers.CharField(help_text="The meaning, in plain words.")
    source_section = serializers.CharField()
    matches = serializers.ListField(
        child=serializers.CharField(),
        help_text="The words that open this entry wherever the patient reads them: whole words, in any case.",
    )


class AboutSerializer(serializers.Serializer):
    """About your surgery (about_payload): the protocol version's pages, the case's approach page first."""

    protocol = serializers.SlugField()
    version = serializers.IntegerField(help_text="The protocol version the texts are from.")
    language = serializers.CharField()
    procedure = serializers.CharField()
    approach = serializers.ChoiceField(choices=Approach.choices, allow_null=True)
    approach_label = serializers.CharField(allow_null=True, help_text="The approach as surgeons write it, e.g. MIS-TLIF.")
    level = serializers.CharField(allow_null=True, help_text="e.g. “L4–L5”; null until entered.")
    your_page = serializers.SlugField(allow_null=True, help_text="The key of the page about the case's approach, first in pages.")
    pages = AboutPageSerializer(many=True)
    glossary = GlossaryEntrySerializer(many=True)
