"""Errors of the connectors package; each message says what to check next."""

from hub.errors import HubError


class ConnectorError(HubError):
    """Root of every connector error."""


class ConnectionNotConfigured(ConnectorError):
    pass


class PlatformError(ConnectorError):
    """The platform answered with an error the connector cannot recover from."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class CursorExpired(ConnectorError):
    pass


class ExportFailed(ConnectorError):
    pass


class ContractViolation(ConnectorError):
    """The platform's answer does not follow PLATFORMS.md (wrong envelope, bad checksum…)."""
