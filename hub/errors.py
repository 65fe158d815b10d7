"""The hub's root exception. Each package derives its own from it."""


class HubError(Exception):
    """Base of every error the hub raises on purpose; the message says what to do next."""
