"""The "About your surgery" answer: a protocol version's about pages and glossary in a language,
the case's approach page first.

A published version never changes, so its pages and glossary in each language are worked out
once per process and kept (as the steps' texts are in checklists.payloads), keyed by the
version's id and content hash; drafts are read each time.
"""

from __future__ import annotations

from checklists.models import ProtocolVersion
from checklists.payloads import is_frozen
from prepapp.lib.lru import LRU
from prepapp.models import SurgeryCase

_kept = LRU(64)


def _texts(item: dict, language: str, fields) -> dict:
    extra = (item.get("translations") or {}).get(language, {}) if language else {}
    return {field: extra.get(field) or item[field] for field in fields}


def _page(version: ProtocolVersion, page: dict, stages: dict, language: str) -> dict:
    texts = _texts(page, language, ("title", "text", "source_section"))
    return {
        "key": page["key"],
        "title": texts["title"],
        "paragraphs": [line.strip() for line in texts["text"].splitlines() if line.strip()],
        "source_section": texts["source_section"],
        "approach": page["approach"] or None,
        "table": [
            {"key": row["key"], **_texts(row, language, ("label", "minimally_invasive", "open"))}
            for row in page["table"]
        ],
        "stages": [
            {"key": key, "label": version.localized_stage(stages[key], language),
             "start_day": stages[key]["start_day"], "end_day": stages[key]["end_day"]}
            for key in page["stages"] if key in stages
        ],
    }


def _entry(entry: dict, language: str) -> dict:
    texts = _texts(entry, language, ("term", "text", "source_section"))
    extra = (entry.get("translations") or {}).get(language, {}) if language else {}
    return {"key": entry["key"], **texts, "matches": list(extra.get("matches") or entry["matches"])}


def version_texts(version: ProtocolVersion, language: str) -> dict:
    """{"pages": [...], "glossary": [...]} of the version in the language, in the file's order (kept when published)."""
    key = (version.id, version.content_hash, language)
    kept = _kept.get(key) if is_frozen(version) else None
    if kept is None:
        stages = {stage["key"]: stage for stage in version.recovery_stages or []}
        kept = {
            "pages": [_page(version, page, stages, language) for page in (version.about or {}).get("pages", [])],
            "glossary": [_entry(entry, language) for entry in version.glossary or []],
        }
        if is_frozen(version):
            _kept.put(key, kept)
    return kept


def about_payload(version: ProtocolVersion, case: SurgeryCase, *, language: str) -> dict:
    """What the patient reads about their operation: the pages (theirs first), the glossary, the case's details.

    The page about the case's approach, when the coordinator has entered one the protocol has a
    page for, comes first and is marked as the patient's; the others keep the file's order.
    """
    texts = version_texts(version, language)
    approach = case.approach or None
    pages = sorted(texts["pages"], key=lambda page: not (approach and page["approach"] == approach))
    return {
        "protocol": version.protocol.key,
        "version": version.number,
        "language": language or "en",
        "procedure": version.procedure_for(case.procedure, language),
        "approach": approach,
        "approach_label": case.get_approach_display() if approach else None,
        "level": case.level or None,
        "your_page": pages[0]["key"] if pages and approach and pages[0]["approach"] == approach else None,
        "pages": pages,
        "glossary": texts["glossary"],
    }
