"""The hub as an Airflow provider of its own asset scheme, ``hub://``, so that its assets
reach OpenLineage.

The package registers this module through the ``apache_airflow_provider`` entry point
(``pyproject.toml``). Airflow then knows the ``hub`` scheme (``normalize``), and the
OpenLineage provider, when it is configured (``[openlineage] transport``), turns the
assets each task reads (``inlets``) and writes (``outlets``) into OpenLineage datasets
with ``to_openlineage``: namespace the hub database (``sqlite:///…`` or
``postgresql://host:port/database``, never a user name or password), name the asset's
path (``staging/civil_affairs``, ``accepted``, ``registry/release``, ``findings``,
``registry``) — except ``hub://platform/<platform>``, the platform's API that ingest
reads, whose namespace is ``platform``. Nothing here touches a database: Airflow loads it whenever it starts.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import SplitResult, urlsplit

__all__ = ["dataset_namespace", "normalize", "provider_info", "to_openlineage"]


def provider_info() -> dict[str, Any]:
    """What Airflow's providers manager reads from the entry point."""
    return {
        "package-name": "elder-data-hub",
        "name": "Elder Data Hub",
        "description": "The hub's asset URIs (hub://) and their OpenLineage datasets.",
        "asset-uris": [{
            "schemes": ["hub"],
            "handler": "hub.lineage.normalize",
            "to_openlineage_converter": "hub.lineage.to_openlineage",
        }],
    }


def normalize(parts: SplitResult) -> SplitResult:
    """``hub://<area>/<name>``: lower-case area, no query or fragment, no trailing slash."""
    if not parts.netloc:
        raise ValueError("a hub asset URI names its area: hub://<area>[/<name>]")
    return SplitResult("hub", parts.netloc.lower(), parts.path.rstrip("/"), "", "")


def dataset_namespace(url: str | None = None) -> str:
    """The hub database as an OpenLineage namespace, without credentials."""
    from sqlalchemy.engine import make_url

    if url is None:
        from hub.settings import get_settings

        url = get_settings().db_url
    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        return f"sqlite:///{u.database or ':memory:'}"
    port = f":{u.port}" if u.port else ""
    return f"{backend}://{u.host or 'localhost'}{port}/{u.database or ''}"


def to_openlineage(asset: Any, lineage_context: Any = None) -> Any:  # noqa: ARG001 — the provider's signature
    """An OpenLineage dataset for a ``hub://`` asset."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    parts = normalize(urlsplit(asset.uri))
    if parts.netloc == "platform":
        return Dataset(namespace="platform", name=parts.path.lstrip("/"))
    return Dataset(namespace=dataset_namespace(), name=f"{parts.netloc}{parts.path}")
