"""API tokens, users and roles.

A token is ``bf_`` + 32 random bytes (``secrets.token_urlsafe``; 256 bits), shown once when
a user is created or a token is rotated. Only ``SHA-256(token)`` is stored: with 256 bits of
entropy a fast hash is enough (a slow password hash protects *guessable* secrets; OWASP
Password Storage Cheat Sheet), and it lets a request be authenticated with one indexed
lookup. ``token_hint`` keeps the first characters to tell tokens apart in listings.

Roles (least privilege; the endpoint-by-role matrix is in :mod:`bitframe.service.app`):

``enroller``      enrol participants at their own site; sees only the allocation just made
``statistician``  export the sealed list and the allocations; service status; recruitment with
                  arm counts; the API documentation
``auditor``       read and verify the audit log; recruitment without arms; the unblindings
``admin``         manage users; emergency unblinding of one participant with a reason; status;
                  recruitment with arm counts; the API documentation
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from bitframe.service.db import ROLES

TOKEN_PREFIX = "bf_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


@dataclass(frozen=True)
class User:
    """An authenticated caller. ``id`` is None for the command line acting on the database."""

    id: int | None
    name: str
    role: str
    site: str | None
    active: bool = True

    def public(self) -> dict[str, str | None]:
        return {"name": self.name, "role": self.role, "site": self.site}


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_commitment(token_hash: str) -> str:
    """What the audit log records of a token hash: enough to detect a hash changed outside the
    service, without putting the hash itself in front of every auditor."""
    return hashlib.sha256(("bitframe-token-commitment|" + token_hash).encode("utf-8")).hexdigest()


def token_hint(token: str) -> str:
    return token[:9]


def check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            "The 'name' parameter must be 1-64 characters: letters, digits and _ . @ - (starting with a letter "
            f"or digit). Got {str(name)[:80]!r} instead."
        )
    return name


def check_role(role: object) -> str:
    from bitframe.errors import check_choice

    return check_choice("role", str(role), ROLES)
