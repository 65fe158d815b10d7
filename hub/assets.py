"""The hub's Airflow assets (data-aware scheduling and lineage), shared by the DAG files.

* ``hub://staging/<platform>`` — a platform's landed, typed records (ingest);
* ``hub://accepted`` — the registry's inputs, promoted by the quality gate (validate);
  the registry DAG is scheduled on it: the registry rebuilds when its inputs change;
* ``hub://registry/release`` — a registry release linked but not yet published (link);
* ``hub://registry`` — the published registry; ``hub://findings`` — the subsidy findings;
* ``hub://platform/<platform>`` — a platform's API, what ingest reads (lineage only).

The tasks declare what they read (``inlets``) and write (``outlets``); with the
OpenLineage provider configured those become OpenLineage datasets (``hub/lineage.py``).
"""

from __future__ import annotations

from airflow.sdk import Asset

from connectors.platforms import PLATFORMS

__all__ = ["ACCEPTED", "FINDINGS", "PLATFORM", "REGISTRY", "RELEASE", "STAGING"]

PLATFORM = {p: Asset(f"hub://platform/{p}") for p in PLATFORMS}
STAGING = {p: Asset(f"hub://staging/{p}") for p in PLATFORMS}
ACCEPTED = Asset("hub://accepted")
RELEASE = Asset("hub://registry/release")
REGISTRY = Asset("hub://registry")
FINDINGS = Asset("hub://findings")
