"""What a lumbar fusion case says about the operation itself: the approach and the level.

Defined once, here: the coordinator enters them (the staff API and the coordinator's page
validate against these), the protocol file's approach pages name them (checklists checks
each page's `approach` against APPROACHES), and the patient's "About your surgery" opens
with the page of theirs.
"""

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class Approach(models.TextChoices):
    """The minimally invasive approaches the patient guide describes, by the name surgeons use."""

    MIS_TLIF = "mis-tlif", "MIS-TLIF"
    XLIF_LLIF = "xlif-llif", "XLIF/LLIF"
    ALIF = "alif", "ALIF"
    MIS_PLIF = "mis-plif", "MIS-PLIF"


APPROACHES = tuple(Approach.values)

# A lumbar level as a surgeon writes it: the vertebrae at each end of the fused part, the upper
# first. One segment ("L4–L5", "L5–S1") or several ("L3–L5"). A hyphen or an en dash, any case.
_LEVEL = re.compile(r"\s*L([1-5])\s*[-\u2013\u2014]\s*(L([1-5])|S1)\s*", re.IGNORECASE)
LEVEL_MAX_LENGTH = 10


def normalise_level(value: str) -> str:
    """'l4-l5' -> 'L4–L5' (an en dash); '' stays ''. Raises ValidationError for anything else."""
    if not value or not value.strip():
        return ""
    found = _LEVEL.fullmatch(value)
    upper = int(found.group(1)) if found else None
    lower = int(found.group(3)) if found and found.group(3) else 6  # S1 sits below L5
    if found is None or lower <= upper:
        raise ValidationError(
            _("Write the level as the surgeon does, the upper vertebra first: for example L4–L5 or L5–S1."),
            code="invalid",
        )
    return f"L{upper}\u2013{'S1' if lower == 6 else f'L{lower}'}"


def validate_level(value: str) -> None:
    """For the model field and the forms over it: a level that can be read (the verbs store it normalised)."""
    normalise_level(value)
