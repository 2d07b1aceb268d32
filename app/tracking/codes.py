"""Tracking codes as people read them out: 8 digits, the last a Damm check digit, so any
single wrong digit and any swap of two neighbouring digits is caught at once (the Damm
algorithm, from the maintained ``python-stdnum``)."""

from __future__ import annotations

import re
import secrets

from stdnum import damm

from app.textnorm import to_latin_digits

LENGTH = 8
_SEPARATORS = re.compile(r"[\s\-_.]")


class BadCode(ValueError):
    """Not a tracking code; ``mistyped`` when it has the right length but fails the check."""

    def __init__(self, message: str, *, mistyped: bool) -> None:
        super().__init__(message)
        self.mistyped = mistyped


def new_code() -> str:
    """A fresh random code (never starting with 0, which spreadsheets would drop)."""
    body = str(1 + secrets.randbelow(9)) + "".join(
        str(secrets.randbelow(10)) for _ in range(LENGTH - 2)
    )
    return body + damm.calc_check_digit(body)


def parse(text: str) -> str:
    """The code in what someone typed or said into the keypad: Persian or Arabic digits,
    spaces and dashes allowed; :class:`BadCode` otherwise."""
    digits = _SEPARATORS.sub("", to_latin_digits(text.strip()))
    if not digits.isdigit() or len(digits) != LENGTH:
        raise BadCode(f"a tracking code has {LENGTH} digits", mistyped=False)
    if not damm.is_valid(digits):
        raise BadCode("this tracking code is mistyped: check the digits", mistyped=True)
    return digits
