"""Unified service and supervision code (统一服务监管码).

Format: ``RRRRRR-YYMMDD-XXXX-XXXX-C`` — the node's 6-digit division code, the submission
date, eight random Crockford base-32 characters and one check character. Random rather than
sequential so codes can be issued without a shared counter (no lock on the hot path) and do not
reveal a hall's volume. The check character is a Damm check over the totally anti-symmetric
quasigroup ``x * y = 2x + y`` in GF(32): it catches every single-character error and every
adjacent transposition, so a mistyped code is caught before any lookup. Crockford's look-alikes
(I, L -> 1; O -> 0) are read leniently.
"""
from __future__ import annotations

import re
import secrets
from datetime import date

from .errors import InvalidInput

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32 (no I, L, O, U)
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_PATTERN = re.compile(r"^(\d{6})-?(\d{6})-?([0-9A-Z]{4})-?([0-9A-Z]{4})-?([0-9A-Z])$")
_LOOKALIKES = str.maketrans({"I": "1", "L": "1", "O": "0"})


def _times_alpha(v: int) -> int:
    """Multiply by x in GF(2^5) modulo x^5 + x^2 + 1."""
    v <<= 1
    return v ^ 0b100101 if v & 0b100000 else v


def check_char(body: str) -> str:
    interim = 0
    for ch in body:
        interim = _times_alpha(interim) ^ _VALUE[ch]
    return ALPHABET[_times_alpha(interim)]  # the c with interim * c == 0


def random_part() -> str:
    """Eight random characters of the alphabet from one read of the OS's CSPRNG (32 divides 256:
    every character is equally likely)."""
    return "".join(ALPHABET[b % 32] for b in secrets.token_bytes(8))


def make_code(division: str, on: date, random_chars: str) -> str:
    if not re.fullmatch(r"\d{6}", division):
        raise ValueError("division code must be 6 digits")
    if len(random_chars) != 8 or any(c not in ALPHABET for c in random_chars):
        raise ValueError("random part must be 8 Crockford base-32 characters")
    body = f"{division}{on:%y%m%d}{random_chars}"
    return f"{division}-{on:%y%m%d}-{random_chars[:4]}-{random_chars[4:]}-{check_char(body)}"


def division_of(code: str) -> str | None:
    """The division a service code belongs to (its first six digits), or None when the code is
    not one: malformed, or a check character that does not match. A node numbers only its own
    cases, so a case is owned by the node of its code's division."""
    try:
        return normalize(code)[:6]
    except InvalidInput:
        return None


def normalize(code: str, field: str = "code") -> str:
    """Canonical form of a typed code; raises InvalidInput naming what is wrong."""
    raw = (code or "").strip().upper().replace(" ", "").translate(_LOOKALIKES)
    m = _PATTERN.match(raw)
    if not m:
        raise InvalidInput(
            "a service code looks like 330105-261122-8K3M-QP2X-7 (division, date, 8 characters, check)",
            field=field,
        )
    div, ymd, a, b, c = m.groups()
    if any(ch not in _VALUE for ch in a + b + c):
        raise InvalidInput("a service code uses digits and letters other than I, L, O and U", field=field)
    if check_char(div + ymd + a + b) != c:
        raise InvalidInput(
            "the check character does not match: the code was probably mistyped", field=field
        )
    return f"{div}-{ymd}-{a}-{b}-{c}"
