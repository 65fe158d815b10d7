"""Connectors to the five source platforms, built from shared parts: auth strategies
(``auth``), pagination strategies (``paginators``), bulk-export download (``export``) and
one retrying, pacing HTTP session (``http``). ``platforms`` configures each platform."""

from connectors.connection import PlatformConnection, get_connection
from connectors.errors import ConnectorError
from connectors.platforms import (
           PLATFORMS,
           RESOURCES,
           ClientOptions,
           PlatformClient,
           ResourceSpec,
           platform_auth,
)

__all__ = ["PLATFORMS", "RESOURCES", "ClientOptions", "ConnectorError", "PlatformClient",
           "PlatformConnection", "ResourceSpec", "get_connection", "platform_auth"]
