"""Protocols (versioned templates), their task definitions, and the checklists assigned to cases."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from checklists import schedule


class Category(models.TextChoices):
    LIFESTYLE = "lifestyle", _("Lifestyle")
    MEDICATION = "medication", _("Medication")
    NUTRITION = "nutrition", _("Nutrition")
    EXERCISE = "exercise", _("Exercise")
    HOME = "home", _("Home and travel")
    APPOINTMENTS = "appointments", _("Tests and appointments")
    QUESTIONS = "questions", _("Questions for your surgeon")


class Protocol(models.Model):
    """A named preparation plan; its content lives in immutable versions."""

    key = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    procedure = models.CharField(max_length=200)
    organization = models.ForeignKey(
        "prepapp.Organization",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="protocols",
        help_text="Empty for the protocols the service ships, which every organization may use.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name

    def latest_version(self):
        """The newest published version: the one a new checklist gets by default."""
        return self.versions.filter(published_at__isnull=False).order_by("-number").first()


class ProtocolVersion(models.Model):
    """A frozen copy of a protocol's content. Checklists point at one, so later edits never reach them.

    A version starts as a draft (a clinical lead edits its steps in the admin) until it is
    published; from then on it never changes, and only published versions can be assigned.
    """

    protocol = models.ForeignKey(Protocol, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # The protocol as a whole, from its file (checklists.protocol_files checks each):
    # {"min": 4, "max": 8}: the weeks of preparation before surgery; empty when not given.
    preparation_weeks = models.JSONField(default=dict, blank=True)
    summary = models.CharField(max_length=300, blank=True)
    # {"es": {"summary": ..., "procedure": ...}}
    translations = models.JSONField(default=dict, blank=True)
    # [{"key", "start_day", "end_day", "label", "steps": [keys], "translations": {"es": {"label"}}}]:
    # the stages of recovery, by days after surgery, in order and without gaps.
    recovery_stages = models.JSONField(default=list, blank=True)
    # The safety net at home, in the forms checklists.protocol_files checks and stores:
    # [{"key", "start", "end" (None: until lifted), "until_lifted", "applies_if", "title", "text",
    #   "source_section", "translations": {"es": {"title", "text"}}}]: the rules in force.
    rules = models.JSONField(default=list, blank=True)
    # {"urgencies": {"emergency"|"call_today"|"before_surgery": {"action", "translations"}},
    #  "signs": [{"key", "urgency", "phase", "text", "source_section", "translations"}]}
    warning_signs = models.JSONField(default=dict, blank=True)
    # {"intro", "all_clear", "translations", "questions": [{"key", "kind": "scale"|"choice", "text",
    #   "min", "max" | "options": [{"key", "text", "signs": [sign keys]}], "translations"}]}
    check_in = models.JSONField(default=dict, blank=True)
    # "About your surgery", in the forms checklists.protocol_files.about checks and stores:
    # {"pages": [{"key", "title", "text", "source_section", "approach", "table": [{"key", "label",
    #   "minimally_invasive", "open", "translations"}], "stages": [stage keys], "translations"}]}
    about = models.JSONField(default=dict, blank=True)
    # [{"key", "term", "text", "matches": [words], "source_section", "translations": {"es": {..., "matches"}}}]
    glossary = models.JSONField(default=list, blank=True)

    @property
    def is_draft(self) -> bool:
        return self.published_at is None

    def localized_procedure(self, language: str) -> str:
        """The protocol's procedure in the language, falling back to the base text."""
        extra = self.translations.get(language, {}) if language else {}
        return extra.get("procedure") or self.protocol.procedure

    def localized_summary(self, language: str) -> str:
        extra = self.translations.get(language, {}) if language else {}
        return extra.get("summary") or self.summary

    def procedure_for(self, typed: str, language: str) -> str:
        """A surgery's procedure, as the coordinator typed it, in the patient's language.

        Coordinators book with the protocol's procedure, often with the level added
        ("Minimally invasive lumbar fusion (L4-L5)"): that part is translated and the rest kept.
        Anything else they typed is shown as typed.
        """
        base = self.protocol.procedure
        translated = self.localized_procedure(language)
        if translated != base and typed.casefold().startswith(base.casefold()):
            return translated + typed[len(base):]
        return typed

    def localized_stage(self, stage: dict, language: str) -> str:
        extra = stage.get("translations", {}).get(language, {}) if language else {}
        return extra.get("label") or stage["label"]

    # The texts of the safety sections in a language, each falling back to the base text
    # (checklists.safety builds what the patient sees from these).

    def localized_rule(self, rule: dict, language: str) -> dict:
        """A rule's {"title", "text"} in the language."""
        extra = _texts_in(rule, language)
        return {"title": extra.get("title") or rule["title"], "text": extra.get("text") or rule["text"]}

    def localized_warning_sign(self, sign: dict, language: str) -> str:
        return _texts_in(sign, language).get("text") or sign["text"]

    def localized_urgency(self, urgency: str, language: str) -> str:
        """What the patient does at this urgency ("Call emergency services now. ..."), or "" if not given."""
        entry = (self.warning_signs or {}).get("urgencies", {}).get(urgency)
        if not entry:
            return ""
        return _texts_in(entry, language).get("action") or entry["action"]

    def localized_check_in(self, language: str) -> dict:
        """The check-in's {"intro", "all_clear"} texts in the language (empty when it has none)."""
        check_in = self.check_in or {}
        extra = _texts_in(check_in, language)
        return {field: extra.get(field) or check_in.get(field, "") for field in ("intro", "all_clear")}

    def localized_question(self, question: dict, language: str) -> dict:
        """A check-in question's {"text", "options": {option key: text}} in the language."""
        extra = _texts_in(question, language)
        options = extra.get("options", {})
        return {
            "text": extra.get("text") or question["text"],
            "options": {o["key"]: options.get(o["key"]) or o["text"] for o in question.get("options", [])},
        }

    class Meta:
        ordering = ["protocol", "-number"]
        constraints = [models.UniqueConstraint(fields=["protocol", "number"], name="unique_protocol_version")]

    def __str__(self):
        return f"{self.protocol.name} v{self.number}"


def _texts_in(item: dict, language: str) -> dict:
    return (item.get("translations") or {}).get(language, {}) if language else {}


class TaskDefinition(models.Model):
    """One step of a protocol version, with its timing as offsets in days from the surgery date.

    Negative offsets are before surgery. `window_start_days`..`window_end_days` is the span
    in which the step should happen; `offset_days` is its due day (usually the window's end).
    The step's phase is not stored: it follows from the sign of `offset_days` (see `phase`).
    """

    version = models.ForeignKey(ProtocolVersion, on_delete=models.CASCADE, related_name="definitions")
    key = models.SlugField(max_length=80)
    position = models.PositiveIntegerField(default=0)
    category = models.CharField(max_length=20, choices=Category.choices)
    title = models.CharField(max_length=200)
    instructions = models.TextField()
    why = models.TextField(blank=True)
    source_section = models.CharField(max_length=200, blank=True)
    offset_days = models.IntegerField()
    window_start_days = models.IntegerField(null=True, blank=True)
    window_end_days = models.IntegerField(null=True, blank=True)
    # {"smoker": true}: every listed fact must match the patient's for the step to apply.
    applies_if = models.JSONField(default=dict, blank=True)
    # [{"key": "volume", "text": "..."}]: e.g. the questions for the surgeon.
    sub_items = models.JSONField(default=list, blank=True)
    # [{"key": "protein", "kind": "per_kg_range", "min": 1.2, "max": 1.6, "unit": "g/day"}]
    targets = models.JSONField(default=list, blank=True)
    # [{"key": "due", "anchor": "due", "offset_days": 0}]: when reminders go out.
    reminder_rules = models.JSONField(default=list, blank=True)
    # {"es": {"title": ..., "instructions": ..., "why": ..., "sub_items": {key: text}}}
    translations = models.JSONField(default=dict, blank=True)
    # Days before surgery the step must be done by for its effect to be there on the day
    # (e.g. 42 for six weeks smoke-free). Only on preparation steps; empty when none applies.
    min_lead_days = models.PositiveIntegerField(null=True, blank=True)
    # A step whose miss can harm (the NSAID stop day, the blood-thinner plan): its reminders
    # go out on their own as well as in the daily digest, and once it is overdue by
    # `escalate_after_days` days the care team gets an alert.
    critical = models.BooleanField(default=False)
    escalate_after_days = models.PositiveSmallIntegerField(null=True, blank=True)
    # Why the minimum lead time matters, in the patient's words: shown with "call your care
    # team" when it can no longer be met. Translated under translations[language]["lead_reason"].
    lead_reason = models.TextField(blank=True)
    # A step that stops a medicine or a habit (stop NSAIDs, stop smoking): it cannot wait. Once
    # its planned day has passed, or its minimum lead time can no longer be met, it is due on
    # the patient's today (never "in a few days"), and while it is open, up to the surgery day,
    # the patient is told `stop_today` (Task.says_stop_today). Translated under
    # translations[language]["stop_today"].
    stop = models.BooleanField(default=False)
    stop_today = models.TextField(blank=True)
    # {"step": key, "keys": [sub-item keys]}: another step's answers shown with this one (the
    # blood-thinner restart shows the plan's restart day and how); empty for most steps.
    shows_answers_of = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["version", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["version", "key"], name="unique_definition_key")]

    def __str__(self):
        return self.title

    @property
    def phase(self) -> str:
        """"preparation" for steps due on or before the surgery day, "recovery" for steps after it."""
        return "recovery" if self.offset_days > 0 else "preparation"

    def clean(self):
        if (self.window_start_days is None) != (self.window_end_days is None):
            raise ValidationError(_("A window needs both a start and an end."))
        if self.window_start_days is not None and self.window_start_days > self.window_end_days:
            raise ValidationError({"window_start_days": _("The window cannot start after it ends.")})
        if self.min_lead_days is not None and self.offset_days is not None and self.offset_days >= 0:
            raise ValidationError({"min_lead_days": _("Only steps due before surgery can have a minimum lead time.")})
        if self.escalate_after_days is not None and not self.critical:
            raise ValidationError({"escalate_after_days": _("Only critical steps are escalated.")})
        if self.lead_reason and self.min_lead_days is None:
            raise ValidationError({"lead_reason": _("Only a step with a minimum lead time has a reason for it.")})
        if self.stop and self.offset_days is not None and self.offset_days > 0:
            raise ValidationError({"stop": _("Only a step before surgery can be a stop that cannot wait.")})
        if self.stop and not self.stop_today.strip():
            raise ValidationError({"stop_today": _("A stop needs the words that tell the patient to stop today.")})
        if self.stop_today and not self.stop:
            raise ValidationError({"stop_today": _("Only a stop has a stop-today text.")})

    def localized(self, language: str) -> dict:
        """Title, instructions, why and sub-item texts in the language, falling back to the base text."""
        extra = self.translations.get(language, {}) if language else {}
        sub_texts = extra.get("sub_items", {})
        return {
            "title": extra.get("title") or self.title,
            "instructions": extra.get("instructions") or self.instructions,
            "why": extra.get("why") or self.why,
            "lead_reason": extra.get("lead_reason") or self.lead_reason,
            "stop_today": extra.get("stop_today") or self.stop_today,
            "sub_items": [{"key": s["key"], "text": sub_texts.get(s["key"]) or s["text"]} for s in self.sub_items],
        }


class Checklist(models.Model):
    """A protocol version assigned to one surgery case."""

    case = models.OneToOneField("prepapp.SurgeryCase", on_delete=models.CASCADE, related_name="checklist")
    protocol_version = models.ForeignKey(ProtocolVersion, on_delete=models.PROTECT, related_name="checklists")
    assigned_at = models.DateTimeField(auto_now_add=True)
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")

    def __str__(self):
        return f"{self.protocol_version} for {self.case.patient}"


class Task(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("To do")
        DONE = "done", _("Done")

    checklist = models.ForeignKey(Checklist, on_delete=models.CASCADE, related_name="tasks")
    definition = models.ForeignKey(TaskDefinition, on_delete=models.PROTECT, related_name="tasks")
    position = models.PositiveIntegerField(default=0)
    due_date = models.DateField()
    window_start = models.DateField(null=True, blank=True)
    window_end = models.DateField(null=True, blank=True)
    # The step's time had already passed when it was assigned or moved: shown as late, never dropped.
    late = models.BooleanField(default=False)
    # When it was assigned or last moved, fewer days were left before surgery than the step's
    # minimum lead time (TaskDefinition.min_lead_days): the patient is asked to call the care
    # team, and the coordinator sees an alert while the step is open.
    not_enough_time = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    note = models.TextField(blank=True)
    # {sub_item_key: "the patient's answer"}
    answers = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_date", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["checklist", "definition"], name="unique_task_per_definition")]
        indexes = [models.Index(fields=["checklist", "status", "due_date"])]

    def __str__(self):
        return f"{self.definition.title} (due {self.due_date})"

    def says_stop_today(self, today) -> bool:
        """Whether the patient is told "stop today" (the definition's stop_today text) on `today`.

        For an open stop step (TaskDefinition.stop) from its due day up to the surgery day; see
        schedule.says_stop_today. Reads the task's definition and its checklist's case.
        """
        return schedule.says_stop_today(
            stop=self.definition.stop, status=self.status, due_date=self.due_date,
            surgery_date=self.checklist.case.surgery_date, today=today,
        )

    def shown_answers(self, language: str = "", *, siblings: dict | None = None) -> list[dict]:
        """The other step's answers this one shows (TaskDefinition.shows_answers_of), in order.

        [{"key", "text" (that sub-item's text in the language), "answer" ("" until given)}];
        empty when the step shows none or the other step is not on this checklist. One query,
        or none with `siblings` (the checklist's tasks by their definition's key, already read).
        """
        link = self.definition.shows_answers_of or {}
        if not link:
            return []
        if siblings is not None:
            source = siblings.get(link["step"])
        else:
            source = (
                Task.objects.filter(checklist_id=self.checklist_id, definition__key=link["step"])
                .select_related("definition").first()
            )
        if source is None:
            return []
        texts = {item["key"]: item["text"] for item in source.definition.localized(language)["sub_items"]}
        answers = source.answers or {}
        return [{"key": key, "text": texts.get(key, key), "answer": answers.get(key, "")} for key in link["keys"]]


# The safety net's records live in their own module; imported here so the app registers them.
from checklists.safety_records import CheckIn, RuleLift  # noqa: E402,F401
