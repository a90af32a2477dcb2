"""Participant identifiers: one rule for the CLI, the library and the enrolment service.

An id is compared as people read it, not as bytes: Unicode NFC (so ``é`` typed as one
code point and as ``e`` + combining accent are the same id), with surrounding whitespace
trimmed. Characters a person cannot see -- control characters, format characters (category
Cf: zero-width spaces and joiners, bidi overrides, the BOM), line and paragraph separators,
private-use and unassigned code points, spaces other than U+0020 inside the id and the
Hangul fillers -- are refused, never silently dropped: the message names each one and its
position, so the site can find it in its export.

Typed ids (``unit.id_type`` in the protocol) are checked further and written in one
canonical form:

``nhs_number``
    NHS England's NHS Number: 10 digits once spaces and hyphens are removed, the last a
    Modulus 11 check digit (NHS Data Dictionary, "NHS Number" data element: weights 10 to
    2 on the first nine digits; 11 minus the remainder of the sum divided by 11 is the check
    digit, 11 becomes 0 and 10 means the number is invalid). ``943 476 5919`` is stored as
    ``9434765919``.
``chi_number``
    NHS Scotland's Community Health Index number: 10 digits (spaces and hyphens removed),
    the first six the date of birth as DDMMYY, the last a check digit by Modulus 11 (as the
    NHS Number) or, for numbers issued once a birth date's Modulus 11 numbers ran out
    (from 2025-26), by Modulus 10 (Luhn doubling from the ninth digit leftwards).
    Source: Public Health Scotland's ``phsmethods::chi_check`` (R package, 2025), which
    implements the CHI Management Board's rule that either check digit is valid.
``text``
    Any other id: the rule above and nothing else.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable

__all__ = ["ID_TYPE_NAMES", "IdentifierError", "describe_char", "is_invisible", "normalise_id"]

#: Code points with no visible glyph that are not in the refused categories (Lo/Mn letters).
_INVISIBLE_EXTRA = frozenset({"\u034f", "\u115f", "\u1160", "\u3164", "\uffa0"})
#: Categories refused anywhere in an id: control, format, surrogate, private use, unassigned,
#: line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


class IdentifierError(ValueError):
    """An id that cannot be used; ``str()`` says what is wrong and how to fix it."""


def describe_char(ch: str) -> str:
    """``U+200B ZERO WIDTH SPACE``: how a message names a character nobody can see."""
    name = unicodedata.name(ch, "")
    if not name and unicodedata.category(ch) == "Cc":
        name = {"\t": "TAB", "\n": "LINE FEED", "\r": "CARRIAGE RETURN"}.get(ch, "CONTROL CHARACTER")
    return f"U+{ord(ch):04X} {name}".rstrip()


def is_invisible(ch: str) -> bool:
    """Whether ``ch`` is refused in an id: it has no glyph, or is a space other than U+0020."""
    category = unicodedata.category(ch)
    return category in _REFUSED_CATEGORIES or ch in _INVISIBLE_EXTRA or (category == "Zs" and ch != " ")


def _digits(value: str, what: str) -> str:
    digits = value.replace(" ", "").replace("-", "")
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        raise IdentifierError(
            f"'{value}' is not a {what}: expected 10 digits (spaces and hyphens allowed), "
            f"got {sum(c.isdigit() for c in digits)} digit(s)"
            + (" and other characters" if not digits.isdigit() else "")
        )
    return digits


def _modulus_11(digits: str) -> int | None:
    """The Modulus 11 check digit of the first nine digits; ``None`` when it would be 10."""
    remainder = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True)) % 11
    check = 11 - remainder
    return 0 if check == 11 else None if check == 10 else check


def _modulus_10(digits: str) -> int:
    """The Modulus 10 (Luhn) check digit of the first nine digits: the 9th, 7th, ... doubled."""
    total = 0
    for position, d in enumerate(digits[:9], start=1):
        value = int(d) * (2 if position % 2 == 1 else 1)
        total += value - 9 if value > 9 else value
    return (10 - total % 10) % 10


def _nhs_number(value: str) -> str:
    digits = _digits(value, "valid NHS number")
    if _modulus_11(digits) != int(digits[9]):
        raise IdentifierError(
            f"'{value}' is not a valid NHS number: its check digit (the last) does not match "
            "(Modulus 11); check it was copied correctly"
        )
    return digits


def _chi_number(value: str) -> str:
    digits = _digits(value, "valid CHI number")
    try:
        dt.datetime.strptime(digits[:6], "%d%m%y")
    except ValueError:
        raise IdentifierError(
            f"'{value}' is not a valid CHI number: its first six digits {digits[:6]} are not a date (DDMMYY)"
        ) from None
    check = int(digits[9])
    if check not in (_modulus_11(digits), _modulus_10(digits)):
        raise IdentifierError(
            f"'{value}' is not a valid CHI number: its check digit (the last) matches neither "
            "Modulus 11 nor Modulus 10; check it was copied correctly"
        )
    return digits


_TYPED: dict[str, Callable[[str], str]] = {"nhs_number": _nhs_number, "chi_number": _chi_number}
#: The id types understood here; ``protocol.vocabulary.ID_TYPES`` labels the same names.
ID_TYPE_NAMES = ("text", *_TYPED)


def normalise_id(raw: object, id_type: str = "text") -> str:
    """The canonical form of one id (see the module docstring); :class:`IdentifierError` if unusable.

    Raises ``ValueError`` naming ``id_type`` when it is not one of :data:`ID_TYPE_NAMES`.
    """
    if id_type not in ID_TYPE_NAMES:
        raise ValueError(f"The 'id_type' parameter must be one of {', '.join(ID_TYPE_NAMES)}. Got {id_type!r} instead.")
    if not isinstance(raw, str):
        raise IdentifierError(f"an id must be text, got {type(raw).__name__}")
    value = unicodedata.normalize("NFC", raw).strip()
    hidden = [(i, ch) for i, ch in enumerate(value, start=1) if is_invisible(ch)]
    if hidden:
        shown = ", ".join(f"{describe_char(ch)} at position {i}" for i, ch in hidden[:5])
        more = f" and {len(hidden) - 5} more" if len(hidden) > 5 else ""
        raise IdentifierError(
            f"id {value!r} contains {shown}{more}: an invisible character would make it a different id; "
            "delete it (retype the id)"
        )
    if not value:
        raise IdentifierError("blank id")
    check = _TYPED.get(id_type)
    return check(value) if check else value
