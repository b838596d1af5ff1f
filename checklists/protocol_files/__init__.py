"""Reading and validating the protocol data files the service ships (`checklists/protocols/*.yaml`).

Validation is strict and names the exact place of each problem, e.g.
`mis_lumbar_fusion.yaml: tasks[2].window: start (-7) is after end (-10)`, so a clinical
lead editing a file learns what to fix before anything reaches a patient.

One module per part of the file: `steps` (tasks), `stages` (recovery stages), `document`
(the whole file, its reading and its fingerprint), and `guide` (the fingerprints that prove
no text copies the patient guide). The names other code uses are all importable from here.
"""

from .common import PREPARATION, RECOVERY, ProtocolFileError, phase_of
from .document import (
    PROTOCOLS_DIR,
    VERSION_FIELDS,
    content_hash,
    parse_protocol,
    read_protocol_file,
    shipped_protocol_files,
)
from .guide import FINGERPRINT_WORDS, fingerprints, text_words
from .stages import check_recovery_stages
from .steps import DEFAULT_REMINDER_RULES, validate_task

__all__ = [
    "DEFAULT_REMINDER_RULES", "FINGERPRINT_WORDS", "PREPARATION", "PROTOCOLS_DIR", "RECOVERY", "VERSION_FIELDS",
    "ProtocolFileError", "check_recovery_stages", "content_hash", "fingerprints", "parse_protocol", "phase_of",
    "read_protocol_file", "shipped_protocol_files", "text_words", "validate_task",
]
