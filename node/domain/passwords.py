"""The staff password policy, and the demo password.

Length alone let ``12345678`` and ``clerk-clerk`` through. A password is refused when it is
shorter than 8 characters, is or contains the user name, is one character repeated, is a run of
consecutive characters (``abcdefgh``, ``98765432``), or is easy to guess by zxcvbn's measure
(common passwords, dictionary words, keyboard walks, dates, the user's own name; score below 3
of 4). Each refusal names the field ``password`` and says why, in Chinese and English.
"""
from __future__ import annotations

from zxcvbn import zxcvbn

from .errors import InvalidInput

DEMO_PASSWORD = "yiwang-demo"
"""The password of every account ``yiwang seed demo`` creates unless told otherwise: accepted
only in demo mode (``YIWANG_DEMO=1``); a node outside it refuses to start while an account
still has it."""

MIN_LENGTH = 8
MIN_SCORE = 3
_MAX_CHECKED = 128  # zxcvbn's cost grows with the length; a longer password is strong enough by length


def _refuse(zh: str, en: str) -> InvalidInput:
    return InvalidInput(f"{zh} / {en}", field="password")


def _is_run(p: str) -> bool:
    steps = {ord(b) - ord(a) for a, b in zip(p, p[1:])}
    return len(steps) == 1 and steps <= {1, -1}


def check_password(password: str, username: str, name: str = "") -> None:
    """Raise ``InvalidInput`` (field ``password``) unless ``password`` may be a staff password."""
    if len(password) < MIN_LENGTH:
        raise _refuse(f"密码至少需要 {MIN_LENGTH} 个字符", f"a password needs at least {MIN_LENGTH} characters")
    low, user = password.lower(), username.strip().lower()
    if user and (low == user or (len(user) >= 3 and user in low)):
        raise _refuse("密码不能包含用户名", "the password must not contain the user name")
    if len(set(low)) == 1:
        raise _refuse("密码不能是同一个字符的重复", "the password must not be one character repeated")
    if _is_run(low):
        raise _refuse("密码不能是连续的字符（如 12345678、abcdefgh）",
                      "the password must not be a run of consecutive characters (like 12345678 or abcdefgh)")
    if len(password) <= _MAX_CHECKED:
        result = zxcvbn(password, user_inputs=[u for u in (username, name) if u])
        if result["score"] < MIN_SCORE:
            hint = result["feedback"].get("warning") or "it is a common word, pattern or date"
            raise _refuse("密码太容易被猜到，请使用更长、不常见的词组合",
                          f"the password is too easy to guess ({hint.rstrip('.')}); use a longer mix of "
                          "uncommon words")
