"""How many SMS parts a text takes: GSM 03.38's 7-bit alphabet fits 160 characters in one
part (153 in each part of a longer text, the rest carries the concatenation header); a
single character outside it (any Persian letter) makes the whole text UCS-2, 70 characters
in one part and 67 in each of several. The panel counts the same way (screenpop/static/
smsparts.js); tests/messaging/test_parts.py holds both to the same cases."""

from __future__ import annotations

from dataclasses import dataclass

# GSM 03.38 basic character set (one septet each) and its extension table (escape + one).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True)
class Parts:
    encoding: str  # "gsm7" or "ucs2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    parts: int
    per_part: int  # what one part holds at this length
    remaining: int  # units left in the last part

    def as_dict(self) -> dict[str, object]:
        return {
            "encoding": self.encoding,
            "units": self.units,
            "parts": self.parts,
            "per_part": self.per_part,
            "remaining": self.remaining,
        }


def sms_parts(text: str) -> Parts:
    """The encoding, length in units, and parts of ``text`` (an empty text is one part)."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text):
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        single, multi, encoding = 160, 153, "gsm7"
    else:
        # UTF-16: a character beyond the BMP (an emoji) is two units.
        units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
        single, multi, encoding = 70, 67, "ucs2"
    if units <= single:
        return Parts(encoding, units, 1, single, single - units)
    parts = -(-units // multi)
    return Parts(encoding, units, parts, multi, parts * multi - units)
