"""Reading and validating the protocol data files the service ships (`checklists/protocols/*.yaml`).

Validation is strict and names the exact place of each problem, e.g.
`mis_lumbar_fusion.yaml: tasks[2].window: start (-7) is after end (-10)`, so a clinical
lead editing a file learns what to fix before anything reaches a patient.

One module per part of the file: `steps` (tasks), `stages` (recovery stages), `rules` (rules
in force), `warning_signs`, `check_in` (the questions asked at home after surgery),
`document` (the whole file, its reading and its fingerprint), and `guide` (the fingerprints
and figures that prove no text copies the patient guide and every number comes from it).
The names other code uses are all importable from here.
"""

from checklists.protocol_files.common import PREPARATION, RECOVERY, ProtocolFileError, phase_of
from checklists.protocol_files.document import (
    PROTOCOLS_DIR,
    VERSION_FIELDS,
    check_stored_version,
    content_hash,
    parse_protocol,
    read_protocol_file,
    shipped_protocol_files,
)
from checklists.protocol_files.guide import FINGERPRINT_WORDS, figures, fingerprints, text_words
from checklists.protocol_files.stages import check_recovery_stages
from checklists.protocol_files.steps import DEFAULT_REMINDER_RULES, validate_task
from checklists.protocol_files.warning_signs import GENERAL_PRACTICE, URGENCIES

__all__ = [
    "DEFAULT_REMINDER_RULES", "FINGERPRINT_WORDS", "GENERAL_PRACTICE", "PREPARATION", "PROTOCOLS_DIR", "RECOVERY",
    "URGENCIES", "VERSION_FIELDS", "ProtocolFileError", "check_recovery_stages", "check_stored_version",
    "content_hash", "figures", "fingerprints", "parse_protocol", "phase_of", "read_protocol_file",
    "shipped_protocol_files", "text_words", "validate_task",
]
