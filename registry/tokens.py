"""API tokens and grants.

A token is a random secret shown once; the hub stores its SHA-256 and its scopes. Scopes:

* ``persons:read`` — persons and their links, personal data masked;
* ``findings:read`` — subsidy findings, personal data masked;
* ``pii:read`` — together with a read scope, the full ID numbers, names and phones.

Every read that hands out personal data is written to ``access_log``.
"""

from __future__ import annotations

import getpass
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select

from hub.errors import HubError
from schemas.access import AccessLog, ApiToken

__all__ = ["SCOPES", "Grant", "audit", "create_token", "grant_for"]

SCOPES = ("persons:read", "findings:read", "pii:read")


class TokenError(HubError):
    """A token is unknown, revoked, or lacks the scope asked for."""


@dataclass(frozen=True)
class Grant:
    principal: str
    scopes: frozenset[str]

    @property
    def pii(self) -> bool:
        return "pii:read" in self.scopes

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise TokenError(f"{self.principal} lacks the scope {scope!r} (it has: {', '.join(sorted(self.scopes))})")


#: What the command line grants without a token: everything but personal data.
OPERATOR = Grant(f"cli:{getpass.getuser()}", frozenset({"persons:read", "findings:read"}))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(conn: Connection, name: str, scopes: list[str]) -> str:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise TokenError(f"unknown or missing scope(s) {unknown or '(none given)'}; choose from {', '.join(SCOPES)}")
    if conn.execute(select(ApiToken.id).where(ApiToken.name == name)).first():
        raise TokenError(f"a token named {name!r} exists already; choose another name")
    token = "hub_" + secrets.token_urlsafe(32)
    conn.execute(insert(ApiToken).values(name=name, token_hash=_digest(token), scopes=sorted(set(scopes)),
                                         created_at=datetime.now(UTC), revoked=False))
    return token


def grant_for(conn: Connection, token: str | None) -> Grant:
    """The grant of ``token``; the command line's operator grant when there is none."""
    if not token:
        return OPERATOR
    row = conn.execute(select(ApiToken.name, ApiToken.scopes, ApiToken.revoked)
                       .where(ApiToken.token_hash == _digest(token))).first()
    if row is None or row.revoked:
        raise TokenError("the token is unknown or revoked; create one with `hub token create`")
    return Grant(row.name, frozenset(row.scopes))


def audit(conn: Connection, grant: Grant, action: str, records: int, unmasked: bool, detail: str | None = None) -> None:
    conn.execute(insert(AccessLog).values(at=datetime.now(UTC), principal=grant.principal, action=action,
                                          records=records, unmasked=unmasked, detail=detail))
