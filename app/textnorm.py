"""Persian-aware text normalisation for search and matching.

What people type varies: Arabic yeh/kaf from an Arabic keyboard layout, ZWNJ inside words,
hamza forms, diacritics, tatweel, Persian or Arabic-Indic digits, Arabic presentation forms.
Search keys fold all of these so that what a person means matches what is stored. Stored text
keeps what was entered.

A space where ZWNJ or nothing belongs ("علی رضا" and "علیرضا") is handled by the search
index, which also holds adjacent words joined (see ``app.customers.service``).
"""

from __future__ import annotations

import re
import unicodedata

_DIGITS = "۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩"
_DIGIT_TABLE = str.maketrans(_DIGITS, "0123456789" * 2)

# Letters folded to one Persian form for matching.
_LETTER_TABLE = str.maketrans(
    {
        "ي": "ی",  # Arabic yeh
        "ى": "ی",  # alef maksura
        "ئ": "ی",
        "ك": "ک",  # Arabic kaf
        "ة": "ه",
        "ۀ": "ه",
        "ؤ": "و",
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
    }
)

# Removed outright: ZWNJ/ZWJ, zero-width space, word joiner, soft hyphen, bidi marks (ALM
# included), tatweel, BOM, and the standalone hamza (علاءالدین, علاالدین and اشیاء, اشیا are
# the same words written two ways).
_DROP = dict.fromkeys(
    map(
        ord,
        "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067"
        "\u2068\u2069\u061c\u00ad\u0640\ufeff\u0621\u0674",
    ),
    None,
)
# Bidi and zero-width marks that are never part of what is displayed.
_STRAY_MARKS = re.compile("[\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\u061c\ufeff]")
_TOKEN_SPLIT = re.compile(r"[^\w]+", re.UNICODE)


def to_latin_digits(text: str) -> str:
    """Persian (۰–۹) and Arabic-Indic (٠–٩) digits to 0–9; everything else unchanged."""
    return text.translate(_DIGIT_TABLE)


def normalize(text: str) -> str:
    """The search key of ``text``: folded letters and digits, no diacritics, lower case,
    single spaces."""
    # NFKC first: Arabic presentation forms and compatibility characters to their base letters.
    # Case-folded before the marks go: "İ" folds to "i" and a combining dot.
    text = unicodedata.normalize("NFKC", text).casefold()
    text = to_latin_digits(text).translate(_LETTER_TABLE)
    # Diacritics (harakat, tanwin, shadda, superscript alef) are combining marks.
    decomposed = unicodedata.normalize("NFD", text)
    text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # Dropped last, after NFKC may have made one (ٸ is yeh and a high hamza).
    text = unicodedata.normalize("NFC", text).translate(_LETTER_TABLE).translate(_DROP)
    # Control characters (NUL included) never belong in a search key.
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    return " ".join(text.split())


def tokens(text: str) -> list[str]:
    """Words of the search key of ``text`` (letters and digits only)."""
    return [t for t in _TOKEN_SPLIT.split(normalize(text).replace("_", " ")) if t]


def clean_display(text: str) -> str:
    """Text as stored for display: trimmed, inner runs of white space collapsed, stray bidi
    marks removed; letters and ZWNJ kept as typed."""
    text = unicodedata.normalize("NFC", text)
    text = _STRAY_MARKS.sub("", text)
    return " ".join(text.split())
