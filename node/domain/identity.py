"""Applicant identifiers: resident ID numbers (GB 11643, ISO 7064 MOD 11-2 check), unified social
credit codes (GB 32100, check character by python-stdnum) and others."""
from __future__ import annotations

import re
from datetime import date

from stdnum.cn import uscc

from .errors import InvalidInput

ID_TYPES = ("resident_id", "uscc", "passport", "other")
_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_CHECK = "10X98765432"
USCC_PATTERN = r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}"


def resident_id_check(first17: str) -> str:
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS)) % 11]


def validate_id(id_type: str, number: str, field: str = "applicant.id_number") -> str:
    n = (number or "").strip().upper()
    if id_type == "resident_id":
        if not re.fullmatch(r"\d{17}[\dX]", n):
            raise InvalidInput("a resident ID number has 17 digits and a final digit or X", field=field)
        try:
            date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
        except ValueError:
            raise InvalidInput("the birth date inside the ID number is not a real date", field=field) from None
        if resident_id_check(n[:17]) != n[17]:
            raise InvalidInput("the ID number's check digit does not match: it was probably mistyped", field=field)
    elif id_type == "uscc":
        # The format is GB 32100's own: stdnum.cn.uscc.validate would also demand digits in the
        # first two places, refusing real codes whose registration authority is a letter (N, Y).
        if not re.fullmatch(USCC_PATTERN, n):
            raise InvalidInput("a unified social credit code (统一社会信用代码) has 18 characters: digits and "
                               "capital letters except I, O, S, V, Z, the 3rd to 8th digits", field=field)
        if uscc.calc_check_digit(n[:17]) != n[17]:
            raise InvalidInput("the unified social credit code's check character does not match: it was probably "
                               "mistyped", field=field)
    elif not re.fullmatch(r"[0-9A-Z\-]{4,32}", n):
        raise InvalidInput("4-32 letters, digits or '-'", field=field)
    return n
