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


# The Persian alphabet in dictionary order. Unicode's order differs (پ چ ژ ک گ ی sit after
# the Arabic letters, and ه before و), so ordering normalised text by code point lists
# "پرویز" after "یاسر". ``normalize`` has already folded آ/أ/إ into ا, Arabic ي/ى/ئ into ی,
# ك into ک and ة/ۀ into ه, so each of those sorts as the letter it is read as.
PERSIAN_ALPHABET = "ابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهی"
# Letters are moved to the Private Use Area, Persian first, then the Latin letters, keeping
# everything else (spaces, digits, punctuation) below them: a shorter name sorts before the
# longer one it begins ("علی" < "علی اکبر" < "علیرضا") and digits before letters.
_ORDER_TABLE = str.maketrans(
    {
        **{ch: chr(0xF000 + i) for i, ch in enumerate(PERSIAN_ALPHABET)},
        **{ch: chr(0xF100 + i) for i, ch in enumerate("abcdefghijklmnopqrstuvwxyz")},
    }
)


def order_key(text: str) -> str:
    """A key whose code-point (byte) order is the phonebook's order of ``text``: Persian
    alphabetical order, Arabic and Persian forms of a letter equal, then Latin letters.

    It is compared by code point, so it must be stored in a column with the "C" collation
    (the same order on every server, whatever its locale). One character in, one out, so its
    length is that of ``normalize(text)``, and two texts have equal keys exactly when their
    normalised forms are equal."""
    return normalize(text).translate(_ORDER_TABLE)
