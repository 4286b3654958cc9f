"""UAI (establishment identifiers): seven digits and a check letter.

The letter is the seven-digit number modulo 23, indexed into the 23 letters A–Z without I, O
and Q, so a mistyped digit is caught before it reaches the directory. Suffixed forms seen in
real feeds (``0650499P-ET6``) are not plain UAIs: callers that accept them split first.
"""

from __future__ import annotations

import re

LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # A–Z without I, O, Q
_SHAPE = re.compile(r"[0-9]{7}[A-Z]")
_DIGITS = re.compile(r"[0-9]{7}")


def check_letter(seven_digits: str) -> str:
    """The check letter of a seven-digit UAI number; ValueError for anything else."""
    if not isinstance(seven_digits, str) or _DIGITS.fullmatch(seven_digits) is None:
        raise ValueError("a UAI number is exactly seven ASCII digits")
    return LETTERS[int(seven_digits) % len(LETTERS)]


def is_valid_uai(value: str) -> bool:
    """True for exactly seven digits and the matching upper-case check letter."""
    if not isinstance(value, str) or _SHAPE.fullmatch(value) is None:
        return False
    return check_letter(value[:7]) == value[7]


def make_uai(number: int) -> str:
    """The UAI of a number in 0..9_999_999, zero-padded, with its check letter."""
    if isinstance(number, bool) or not 0 <= number <= 9_999_999:
        raise ValueError("a UAI number is between 0 and 9999999")
    digits = f"{number:07d}"
    return digits + check_letter(digits)
