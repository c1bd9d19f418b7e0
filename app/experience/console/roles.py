"""Console roles, each a set of the API's existing scopes."""

from __future__ import annotations

# Weakest first: an identity provider granting several maps to the last one listed here.
ROLES: dict[str, frozenset[str]] = {
    "viewer": frozenset({"ops:read", "audit:read"}),
    "operator": frozenset(
        {
            "ops:read",
            "ops:write",
            "audit:read",
            "credit_memos:read",
            "credit_memos:write",
            "credit_memos:approve",
        }
    ),
}


def strongest(roles: set[str]) -> str | None:
    """The strongest console role among `roles`, or None."""
    known = [role for role in ROLES if role in roles]
    return known[-1] if known else None
