"""The hub's Airflow assets (data-aware scheduling and lineage), shared by the DAG files.

* ``hub://staging/<platform>`` — a platform's landed, typed records (ingest);
* ``hub://accepted`` — the registry's inputs, promoted by the quality gate (validate);
  the registry DAG is scheduled on it: the registry rebuilds when its inputs change;
* ``hub://registry`` — the published registry; ``hub://findings`` — the subsidy findings.
"""

from __future__ import annotations

from airflow.sdk import Asset

from connectors.platforms import PLATFORMS

__all__ = ["ACCEPTED", "FINDINGS", "REGISTRY", "STAGING"]

STAGING = {p: Asset(f"hub://staging/{p}") for p in PLATFORMS}
ACCEPTED = Asset("hub://accepted")
REGISTRY = Asset("hub://registry")
FINDINGS = Asset("hub://findings")
