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
