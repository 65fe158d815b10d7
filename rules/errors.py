"""The rules package's root exception."""

from __future__ import annotations

from hub.errors import HubError

__all__ = ["CalendarNotCovered", "RulesError"]


class RulesError(HubError):
    """The subsidy rules cannot judge: the message says what to fix."""


class CalendarNotCovered(RulesError):
    """A date outside the years the official holiday calendar knows."""
