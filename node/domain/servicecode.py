"""Unified service and supervision code (统一服务监管码).

Format: ``RRRRRR-YYMMDD-XXXX-XXXX-C`` — the node's 6-digit division code, the submission
date, eight random Crockford base-32 characters and one ISO 7064 MOD 37,36 check character.
Random rather than sequential so codes can be issued without a shared counter (no lock on the
hot path) and do not reveal a hall's volume; MOD 37,36 detects every single-character error and
every adjacent transposition, so a mistyped code is caught before any lookup.
"""
from __future__ import annotations

import re
from datetime import date

from .errors import InvalidInput

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32 (no I, L, O, U)
_CHECK_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VALUE = {c: i for i, c in enumerate(_CHECK_ALPHABET)}
_PATTERN = re.compile(r"^(\d{6})-?(\d{6})-?([0-9A-Z]{4})-?([0-9A-Z]{4})-?([0-9A-Z])$")


def check_char(body: str) -> str:
    """ISO 7064 MOD 37,36 (hybrid system) check character over ``body`` (0-9, A-Z)."""
    m = 36
    p = m
    for ch in body:
        s = (p % (m + 1)) + _VALUE[ch]
        s %= m
        if s == 0:
            s = m
        p = (2 * s) % (m + 1)
    c = (m + 1 - p) % m
    return _CHECK_ALPHABET[c]


def make_code(division: str, on: date, random_chars: str) -> str:
    if not re.fullmatch(r"\d{6}", division):
        raise ValueError("division code must be 6 digits")
    if len(random_chars) != 8 or any(c not in ALPHABET for c in random_chars):
        raise ValueError("random part must be 8 Crockford base-32 characters")
    body = f"{division}{on:%y%m%d}{random_chars}"
    return f"{division}-{on:%y%m%d}-{random_chars[:4]}-{random_chars[4:]}-{check_char(body)}"


def normalize(code: str, field: str = "code") -> str:
    """Canonical form of a typed code; raises InvalidInput naming what is wrong."""
    raw = (code or "").strip().upper().replace(" ", "")
    m = _PATTERN.match(raw)
    if not m:
        raise InvalidInput(
            "a service code looks like 330105-261122-8K3M-QP2X-7 (division, date, 8 characters, check)",
            field=field,
        )
    div, ymd, a, b, c = m.groups()
    if check_char(div + ymd + a + b) != c:
        raise InvalidInput(
            "the check character does not match: the code was probably mistyped", field=field
        )
    return f"{div}-{ymd}-{a}-{b}-{c}"
