"""Callers for synthetic traffic: Persian and Latin names, Iranian numbers as carriers send
them (pure: a seeded ``Random`` in, bytes out)."""

from __future__ import annotations

from dataclasses import dataclass
from random import Random

# Written with the Persian yeh (U+06CC) and keheh (U+06A9), as Iranian phones send them.
# "Ali-pour" and "Mohammadi-nia" carry a zero-width non-joiner (U+200C), common in surnames.
_FIRST = (
    ("علی", "Ali"),
    ("محمد", "Mohammad"),
    ("رضا", "Reza"),
    ("حسین", "Hossein"),
    ("مهدی", "Mahdi"),
    ("امیر", "Amir"),
    ("سعید", "Saeed"),
    ("کیان", "Kian"),
    ("آرش", "Arash"),
    ("مریم", "Maryam"),
    ("زهرا", "Zahra"),
    ("فاطمه", "Fatemeh"),
    ("سارا", "Sara"),
    ("نگین", "Negin"),
    ("پریسا", "Parisa"),
    ("الهام", "Elham"),
    ("نرگس", "Narges"),
    ("شیرین", "Shirin"),
    ("بهاره", "Bahareh"),
    ("یاسمن", "Yasaman"),
)
_LAST = (
    ("رضایی", "Rezaei"),
    ("احمدی", "Ahmadi"),
    ("کریمی", "Karimi"),
    ("حسینی", "Hosseini"),
    ("محمدی", "Mohammadi"),
    ("موسوی", "Mousavi"),
    ("جعفری", "Jafari"),
    ("کاظمی", "Kazemi"),
    ("رحیمی", "Rahimi"),
    ("تهرانی", "Tehrani"),
    ("مرادی", "Moradi"),
    ("قاسمی", "Ghasemi"),
    ("صادقی", "Sadeghi"),
    ("یزدانی", "Yazdani"),
    ("کرمانی", "Kermani"),
    ("حیدری", "Heydari"),
    ("علی\u200cپور", "Alipour"),
    ("محمدی\u200cنیا", "Mohammadinia"),
)
# Mobile operator prefixes (MCI 091x/099x, Irancell 093x/090x, RighTel 092x).
_MOBILE = ("912", "919", "935", "936", "937", "938", "939", "901", "902", "990", "991", "921")
# Landline area codes: Tehran, Isfahan, Mashhad, Shiraz, Tabriz, Karaj (8-digit numbers).
_AREA = ("21", "21", "21", "31", "51", "71", "41", "26")


@dataclass(frozen=True, slots=True)
class Caller:
    number: bytes
    name: bytes


def random_caller(rng: Random) -> Caller:
    return Caller(random_number(rng).encode(), random_name(rng).encode())


def random_name(rng: Random) -> str:
    (first_fa, first_en), (last_fa, last_en) = rng.choice(_FIRST), rng.choice(_LAST)
    roll = rng.random()
    if roll < 0.5:
        return f"{first_fa} {last_fa}"
    if roll < 0.55:
        # Some phones and old systems send Arabic yeh/kaf (U+064A, U+0643) for Persian text:
        # the same name must still match the same customer.
        return f"{first_fa} {last_fa}".replace("ی", "ي").replace("ک", "ك")
    return f"{first_en} {last_en}"


def random_number(rng: Random) -> str:
    """A number in one of the forms Iranian carriers present: 09xx… (most), +989…, 00989…,
    or a landline 0AA…/+98AA…."""
    roll = rng.random()
    if roll < 0.8:
        national = rng.choice(_MOBILE) + f"{rng.randrange(10**7):07d}"
    else:
        national = rng.choice(_AREA) + f"{rng.randrange(2 * 10**7, 10**8):08d}"
    form = rng.random()
    if form < 0.65:
        return "0" + national
    if form < 0.85:
        return "+98" + national
    return "0098" + national
