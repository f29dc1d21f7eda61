"""SMS encoding and segments, exactly per GSM 03.38, and French-aware normalisation.

A text made only of the GSM 7-bit alphabet is sent as GSM-7: 160 septets in one SMS, 153
per segment once concatenated (the user data header takes the rest). Characters of the
extension table (€, [, ], {, }, \\, ^, ~, |, form feed) cost two septets, and the pair is
never split across two segments. Any other character makes the whole message UCS-2: 70
UTF-16 code units in one SMS, 67 per segment, a surrogate pair (an emoji) never split.

French is mostly GSM-7 (é è à ù are in the alphabet) but typographic French is not:
guillemets, non-breaking and narrow spaces, the apostrophe ’, the ellipsis, œ, ç, ê…
``normalize(text, "gsm")`` rewrites those into GSM-7 while keeping the text readable, and
never into "?": a character with no GSM-7 rendering is kept, and the message goes UCS-2.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

Encoding = Literal["GSM-7", "UCS-2"]
Normalization = Literal["keep", "gsm"]

# Typographic characters and their GSM-7 rendering. Order matters for multi-character keys.
_REPLACEMENTS: tuple[tuple[str, str], ...] = (
    ("«\u00a0", '"'),
    ("«\u202f", '"'),
    ("\u00a0»", '"'),
    ("\u202f»", '"'),
    ("« ", '"'),
    (" »", '"'),
    ("«", '"'),
    ("»", '"'),
    ("n°", "numéro "),
    ("N°", "numéro "),
    ("\u00a0", " "),  # non-breaking space
    ("\u202f", " "),  # narrow non-breaking space (before ; : ! ? in French)
    ("\u2009", " "),  # thin space
    ("\u2007", " "),
    ("’", "'"),
    ("‘", "'"),
    ("‚", "'"),
    ("“", '"'),
    ("”", '"'),
    ("„", '"'),
    ("…", "..."),
    ("–", "-"),
    ("—", "-"),
    ("‑", "-"),  # non-breaking hyphen
    ("œ", "oe"),
    ("Œ", "OE"),
    ("°", " degrés"),
    ("`", "'"),
    ("\t", " "),
)


GSM_ALL = GSM_BASIC | GSM_EXTENSION


def encoding_of(text: str) -> Encoding:
    return "GSM-7" if GSM_ALL.issuperset(text) else "UCS-2"


def _units(text: str, encoding: Encoding) -> list[int]:
    """The size of each character in the encoding's units: septets, or UTF-16 code units."""
    if encoding == "GSM-7":
        return [2 if c in GSM_EXTENSION else 1 for c in text]
    return [2 if ord(c) > 0xFFFF else 1 for c in text]


def _segments(sizes: list[int], single: int, per_segment: int) -> int:
    total = sum(sizes)
    if total <= single:
        return 1 if total else 0
    count, used = 1, 0
    for size in sizes:  # greedy, never splitting an escape pair or a surrogate pair
        if used + size > per_segment:
            count, used = count + 1, 0
        used += size
    return count


@dataclass(frozen=True)
class SmsInfo:
    encoding: Encoding
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int
    characters: int

    @property
    def report(self) -> str:
        """For people: ``GSM-7, 2 segments, 176 characters``."""
        plural = "s" if self.segments != 1 else ""
        return f"{self.encoding}, {self.segments} segment{plural}, {self.characters} characters"


def analyze(text: str) -> SmsInfo:
    """Encoding, length in units, and number of SMS segments of ``text``."""
    encoding = encoding_of(text)
    sizes = _units(text, encoding)
    single, per_segment = (160, 153) if encoding == "GSM-7" else (70, 67)
    return SmsInfo(encoding, sum(sizes), _segments(sizes, single, per_segment), len(text))


class _GsmTable(dict[int, str]):
    """``str.translate`` table to GSM-7, filled on first sight of each character."""

    def __missing__(self, codepoint: int) -> str:
        self[codepoint] = _to_gsm(chr(codepoint))
        return self[codepoint]


_TO_GSM = _GsmTable()


def _to_gsm(char: str) -> str:
    """The closest GSM-7 text for one character, or the character itself if there is none."""
    if char in GSM_BASIC or char in GSM_EXTENSION:
        return char
    if char == "ç":
        return "c"
    base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
    if base and all(c in GSM_BASIC for c in base):
        return base  # ê → e, â → a, À → A, ï → i: readable, one septet
    return char


def normalize(text: str, mode: Normalization = "gsm") -> str:
    """``keep`` returns ``text``; ``gsm`` rewrites typographic French into GSM-7."""
    if mode == "keep":
        return text
    for source, target in _REPLACEMENTS:
        text = text.replace(source, target)
    return text.translate(_TO_GSM).replace("  ", " ")
