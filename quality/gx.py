"""Great Expectations, kept at arm's length: an ephemeral context per validation run, a
SQL data source on the hub's own database, one query asset per resource and scope, a
checkpoint that validates them all and writes the run's Data Docs.

Importing GX takes seconds and prints warnings, so nothing here is imported until a
validation runs.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Select

__all__ = ["ExpectationOutcome", "GxRun"]

log = logging.getLogger(__name__)


@dataclass
class ExpectationOutcome:
    check: str
    success: bool
    unexpected: int | None  # failing rows (row checks)
    observed: Any  # the observed value (table checks)


class GxRun:
    """One checkpoint run over several (suite, query) pairs of one database."""

    def __init__(self, engine: Engine, docs_dir: Path | None) -> None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig
        for name in ("great_expectations", "great_expectations.data_context.types.base"):  # the latter sets INFO
            logging.getLogger(name).setLevel(logging.ERROR)
        self.gx = gx
        self.engine = engine
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.docs_dir = docs_dir
        if docs_dir is not None:
            self.context.add_data_docs_site(site_name="hub", site_config={
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            })
        url = engine.url.render_as_string(hide_password=False)
        if engine.dialect.name == "sqlite":
            self.source = self.context.data_sources.add_sqlite(name="hub", connection_string=url)
        elif engine.dialect.name == "postgresql":
            self.source = self.context.data_sources.add_postgres(name="hub", connection_string=url)
        else:
            self.source = self.context.data_sources.add_sql(name="hub", connection_string=url)
        self._definitions: list[Any] = []

    def add(self, name: str, query: Select, expectations: list[Any]) -> None:
        """Validate the rows of ``query`` against ``expectations`` as suite ``name``."""
        if not expectations:
            return
        sql = str(query.compile(dialect=self.engine.dialect, compile_kwargs={"literal_binds": True}))
        asset = self.source.add_query_asset(name=name, query=sql)
        batch = asset.add_batch_definition_whole_table(name)
        suite = self.context.suites.add(self.gx.ExpectationSuite(name=name))
        for e in expectations:
            suite.add_expectation(e)
        self._definitions.append(self.context.validation_definitions.add(
            self.gx.ValidationDefinition(name=name, data=batch, suite=suite)))

    def run(self, run_name: str) -> dict[str, list[ExpectationOutcome]]:
        """Run every suite added; outcomes per suite name."""
        if not self._definitions:
            return {}
        # Data Docs are built once at the end: the checkpoint's docs action rebuilds the
        # whole site after every validation definition (28 times per run here).
        checkpoint = self.context.checkpoints.add(self.gx.Checkpoint(
            name=run_name, validation_definitions=self._definitions, actions=[],
            # no sample values: they would put personal data into the Data Docs
            result_format={"result_format": "BASIC", "partial_unexpected_count": 0}))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = checkpoint.run(run_id=self.gx.RunIdentifier(run_name=run_name))
        if self.docs_dir is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.context.build_data_docs(site_names=["hub"])
        out: dict[str, list[ExpectationOutcome]] = {}
        for vr in result.run_results.values():
            suite_name = vr.suite_name
            for r in vr.results:
                meta = r.expectation_config.meta or {}
                res = r.result or {}
                observed = res.get("observed_value")
                unexpected = res.get("unexpected_count")
                if unexpected is None and r.expectation_config.type == "unexpected_rows_expectation":
                    unexpected = int(observed or 0)
                error = _exception(r.exception_info)
                if error:
                    raise RuntimeError(f"GX could not evaluate {suite_name}/{meta.get('check')}: {error}")
                out.setdefault(suite_name, []).append(
                    ExpectationOutcome(meta.get("check", r.expectation_config.type), bool(r.success),
                                       unexpected, observed))
        return out

    def index(self) -> Path | None:
        return self.docs_dir / "index.html" if self.docs_dir is not None else None


def _exception(info: Any) -> str | None:
    """The message of an exception GX caught while evaluating, if any (GX reports it
    either flat or per metric)."""
    if not info:
        return None
    if "raised_exception" in info:
        return info.get("exception_message") if info.get("raised_exception") else None
    for v in info.values():
        if isinstance(v, dict) and v.get("raised_exception"):
            return v.get("exception_message")
    return None
