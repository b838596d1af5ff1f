"""The safety net's answers as the API documents them (the views pass on plain data built in workflows)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from prepapp.lib.schema import LocalTimeField

URGENCY_CHOICES = ["emergency", "call_today", "none"]


@extend_schema_field({
    "type": "object",
    "additionalProperties": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
    "example": {"back-pain": 3, "new-weakness": "no"},
})
class AnswersField(serializers.JSONField):
    """{question key: a whole number on its scale, or an option key}."""


class CareTeamSerializer(serializers.Serializer):
    organization = serializers.CharField()
    phone = serializers.CharField(help_text="The care team's phone number (may be empty if not set).")
    after_hours_phone = serializers.CharField()
    emergency_number = serializers.CharField(help_text="Emergency services where the patient lives (e.g. 911): "
                                             "what the app's emergency buttons dial.")
    check_in_hours = serializers.CharField(help_text="When the care team reads check-ins: nobody reads them around the clock.")


class RuleConditionSerializer(serializers.Serializer):
    fact = serializers.CharField()
    applies_when = serializers.BooleanField()


class RuleSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    text = serializers.CharField()
    source_section = serializers.CharField()
    start_date = serializers.DateField()
    end_date = serializers.DateField(allow_null=True, help_text="Empty for a rule kept until the care team lifts it.")
    until_lifted = serializers.BooleanField()
    conditional = serializers.BooleanField()
    conditional_on = RuleConditionSerializer(many=True)
    ending_soon = serializers.BooleanField(help_text="In its last week.")


class RuleEndedSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    ended_on = serializers.DateField(help_text="A dated rule's last day, or the day the care team lifted it.")


class SignSerializer(serializers.Serializer):
    key = serializers.CharField()
    text = serializers.CharField()
    source_section = serializers.CharField()


class SignGroupSerializer(serializers.Serializer):
    urgency = serializers.ChoiceField(choices=["emergency", "call_today", "before_surgery"])
    action = serializers.CharField()
    signs = SignSerializer(many=True)


class DayOfSerializer(serializers.Serializer):
    surgery_date = serializers.DateField()
    surgery_time = LocalTimeField(allow_null=True)
    arrival_time = LocalTimeField(allow_null=True)
    food_until = serializers.DateTimeField(
        allow_null=True, help_text="Local time with its UTC offset: arrival (or surgery) time minus the food cutoff."
    )
    clear_fluids_until = serializers.DateTimeField(allow_null=True)
    food_cutoff_hours = serializers.IntegerField()
    clear_fluids_cutoff_hours = serializers.IntegerField()
    rule_confirmed = serializers.BooleanField(help_text="False while the cutoffs are general practice not yet confirmed.")


class CheckInStateSerializer(serializers.Serializer):
    due_today = serializers.BooleanField()
    done_today = serializers.BooleanField()
    day = serializers.IntegerField(allow_null=True, help_text="Days after surgery; empty before it.")
    next_day = serializers.IntegerField(allow_null=True, help_text="The next check-in day after today.")


class SafetySerializer(serializers.Serializer):
    """The patient's safety card: rules in force, warning signs, the day of surgery, the check-in."""

    phase = serializers.ChoiceField(choices=["preparation", "recovery"], allow_null=True)
    today = serializers.DateField()
    days_after_surgery = serializers.IntegerField(allow_null=True)
    care_team = CareTeamSerializer()
    rules = RuleSerializer(many=True)
    rules_ended = RuleEndedSerializer(many=True)
    warning_signs = SignGroupSerializer(many=True)
    show_signs_on_home = serializers.BooleanField()
    day_of = DayOfSerializer(allow_null=True)
    check_in = CheckInStateSerializer()


class QuestionOptionSerializer(serializers.Serializer):
    key = serializers.CharField()
    text = serializers.CharField()


class QuestionSerializer(serializers.Serializer):
    key = serializers.CharField()
    kind = serializers.ChoiceField(choices=["scale", "choice"])
    text = serializers.CharField()
    min = serializers.IntegerField(allow_null=True)
    max = serializers.IntegerField(allow_null=True)
    options = QuestionOptionSerializer(many=True)


class CheckInHistorySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    day = serializers.IntegerField()
    answered_at = serializers.DateTimeField()
    urgency = serializers.ChoiceField(choices=URGENCY_CHOICES)
    answers = AnswersField()


class CheckInFormSerializer(serializers.Serializer):
    """The check-in: its questions in the patient's language, whether one is due today, and past answers."""

    intro = serializers.CharField()
    all_clear = serializers.CharField()
    questions = QuestionSerializer(many=True)
    due_today = serializers.BooleanField()
    day = serializers.IntegerField(allow_null=True)
    history = CheckInHistorySerializer(many=True)


class CheckInReplySerializer(serializers.Serializer):
    title = serializers.CharField()
    text = serializers.CharField()


class CheckInResultSerializer(serializers.Serializer):
    """The check-in as stored, and what the patient must do now."""

    id = serializers.IntegerField()
    urgency = serializers.ChoiceField(choices=URGENCY_CHOICES)
    reply = CheckInReplySerializer()
    signs = QuestionOptionSerializer(many=True)
    care_team = CareTeamSerializer()


class StaffRuleSerializer(RuleSerializer):
    lifted = serializers.BooleanField()
    lifted_by = serializers.CharField(allow_null=True)
    lifted_at = serializers.DateTimeField(allow_null=True)
    can_lift = serializers.BooleanField()


class AnswerReadSerializer(serializers.Serializer):
    key = serializers.CharField()
    question = serializers.CharField(help_text="The question as the patient read it (its key if the protocol no longer has it).")
    answer = serializers.CharField(help_text="The answer in words: the option's text, or the number on its scale.")


class StaffCheckInSerializer(CheckInHistorySerializer):
    red_flags = serializers.ListField(child=serializers.CharField())
    answers_read = AnswerReadSerializer(many=True, help_text="The answers in the protocol's order, in words.")
    red_flags_read = serializers.ListField(child=serializers.CharField(), help_text="The warning signs matched, in words.")


class PainPointSerializer(serializers.Serializer):
    day = serializers.IntegerField()
    back_pain = serializers.IntegerField(allow_null=True)
    leg_pain = serializers.IntegerField(allow_null=True)


class RestartSerializer(serializers.Serializer):
    due_date = serializers.DateField()
    status = serializers.CharField()
    confirmed_at = serializers.DateTimeField(allow_null=True)


class StaffSafetySerializer(serializers.Serializer):
    """A patient's safety net as the care team sees it."""

    rules = StaffRuleSerializer(many=True)
    check_ins = StaffCheckInSerializer(many=True)
    pain_trend = PainPointSerializer(many=True)
    blood_thinner_restart = RestartSerializer(allow_null=True)
