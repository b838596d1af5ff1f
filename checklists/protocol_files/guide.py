"""Guide fingerprints: how the tests prove that no protocol text copies the guide's sentences
without the guide's text being kept in the repository. A text's fingerprints are the
truncated sha256 of each run of FINGERPRINT_WORDS consecutive words, after normalising.
"""

from __future__ import annotations

import hashlib
import re

FINGERPRINT_WORDS = 12
_APOSTROPHES = re.compile(r"['\u2019\u2018\u02bc]")
_WORD = re.compile(r"[^\W_]+")


def text_words(text: str) -> list[str]:
    """Lower-case words (runs of letters or digits), apostrophes dropped: "don't" is "dont"."""
    return _WORD.findall(_APOSTROPHES.sub("", text.lower()))


def fingerprints(text: str, size: int = FINGERPRINT_WORDS) -> set[str]:
    words = text_words(text)
    return {
        hashlib.sha256(" ".join(words[i : i + size]).encode()).hexdigest()[:16]
        for i in range(len(words) - size + 1)
    }


# Guide figures: how the tests prove that every number a patient reads comes from the guide (or
# is a listed general-practice figure), again without keeping the guide's text. A figure is a
# number as written, in a canonical form: no thousands separator, a decimal point ("1,200" and
# "1200" are "1200"; "1.2" in English and "1,2" in Spanish are "1.2").
_ENGLISH_NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
_DECIMAL_COMMA_NUMBER = re.compile(r"\d+(?:\.\d{3})*(?:,\d+)?")


def figures(text: str, *, decimal_comma: bool = False) -> set[str]:
    """The numbers in a text, canonical. `decimal_comma` for languages that write 1,2 for 1.2 (Spanish)."""
    if decimal_comma:
        found = (n.replace(".", "").replace(",", ".") for n in _DECIMAL_COMMA_NUMBER.findall(text))
    else:
        found = (n.replace(",", "") for n in _ENGLISH_NUMBER.findall(text))
    return set(found)
