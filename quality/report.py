"""The stewards' quality summary: one static HTML page (``reports/quality/index.html``
under ``HUB_HOME``) drawn from the validation history in the database.

Per platform and resource: the latest run's rows, promoted, quarantined and released
counts, blocked or not and why, each check's pass rate, and the trend over the last
runs; links to each run's GX Data Docs. No personal data: counts and masked values only.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from jinja2 import Environment, select_autoescape
from sqlalchemy import Engine, func, select

from schemas.quality import (
    QualityGate,
    QualityQuarantine,
    QualityResource,
    QualityResult,
    QualityRun,
)

__all__ = ["write_report"]

TREND_RUNS = 10

_TEMPLATE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>Elder Data Hub — data quality</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3} td.l,th.l{text-align:left}
.blocked{background:#fdd}.warned{background:#ffd}.passed{background:#dfd}
.block{color:#b00;font-weight:bold}.warn{color:#a60}.pass{color:#070}
small{color:#666}
</style></head><body>
<h1>Data quality 数据质量</h1>
<p>Latest validation: run {{ latest.id }} ({{ latest.status }}), finished {{ latest.finished_at }} UTC.
{% if latest.docs %}<a href="{{ latest.docs }}">Great Expectations Data Docs of this run</a>.{% endif %}</p>
<h2>Resources</h2>
<table><tr><th class="l">platform / resource</th><th>status</th><th>gate</th><th>checked</th>
<th>promoted</th><th>quarantined</th><th>released</th><th>live rows</th><th>open quarantine</th>
<th class="l">trend (oldest → newest)</th><th class="l">why</th></tr>
{% for r in resources %}<tr class="{{ r.status }}"><td class="l">{{ r.platform }} / {{ r.resource }}</td>
<td>{{ r.status }}</td><td>{{ r.gate }}</td><td>{{ "{:,}".format(r.rows_checked) }}</td>
<td>{{ "{:,}".format(r.rows_promoted) }}</td><td>{{ "{:,}".format(r.rows_quarantined) }}</td>
<td>{{ "{:,}".format(r.rows_released) }}</td><td>{{ "{:,}".format(r.rows_live) }}</td>
<td>{{ "{:,}".format(r.open_quarantine) }}</td>
<td class="l">{{ r.trend }}</td><td class="l"><small>{{ r.reason or "" }}</small></td></tr>
{% endfor %}</table>
<h2>Checks</h2>
{% for key, checks in checks.items() %}<h3>{{ key }}</h3>
<table><tr><th class="l">check</th><th>severity</th><th>threshold</th><th>rows</th><th>failed</th>
<th>pass rate</th><th>outcome</th><th class="l">pass rate, last runs</th></tr>
{% for c in checks %}<tr><td class="l">{{ c.check_name }}</td><td>{{ c.severity }}</td>
<td>{{ "%.1f%%" % (100 * c.threshold) }}</td><td>{{ "{:,}".format(c.rows_checked) }}</td>
<td>{{ "{:,}".format(c.rows_failed) }}</td><td>{{ c.rate }}</td>
<td class="{{ c.outcome }}">{{ c.outcome }}</td><td class="l"><small>{{ c.trend }}</small></td></tr>
{% endfor %}</table>{% endfor %}
<h2>Runs</h2>
<table><tr><th>run</th><th>ingest run</th><th class="l">status</th><th class="l">finished (UTC)</th>
<th class="l">Data Docs</th></tr>
{% for run in runs %}<tr><td>{{ run.id }}</td><td>{{ run.ingest_run_id or "" }}</td>
<td class="l">{{ run.status }}</td><td class="l">{{ run.finished_at }}</td>
<td class="l">{% if run.docs %}<a href="{{ run.docs }}">docs</a>{% endif %}</td></tr>{% endfor %}
</table></body></html>
"""


def _rate(checked: int, failed: int) -> str:
    return f"{100 * (checked - failed) / checked:.2f}%" if checked else "—"


def write_report(engine: Engine, out_dir: Path) -> Path:
    """Write the summary page; returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with engine.connect() as conn:
        runs = conn.execute(select(QualityRun).order_by(QualityRun.id.desc()).limit(TREND_RUNS)).all()
        run_ids = [r.id for r in runs]
        res_rows = conn.execute(select(QualityResource).where(QualityResource.run_id.in_(run_ids))
                                .order_by(QualityResource.run_id)).all()
        chk_rows = conn.execute(select(QualityResult).where(QualityResult.run_id.in_(run_ids))
                                .order_by(QualityResult.run_id)).all()
        gates = {(g.platform, g.resource): g.status for g in conn.execute(select(QualityGate))}
        q = QualityQuarantine
        open_q = dict(((p, r), n) for p, r, n in conn.execute(
            select(q.platform, q.resource, func.count()).where(q.released_at.is_(None))
            .group_by(q.platform, q.resource)))

    def docs_link(run) -> str | None:  # noqa: ANN001
        return (Path(run.docs_path).relative_to(out_dir).as_posix()
                if run.docs_path and Path(run.docs_path).is_relative_to(out_dir) else run.docs_path)

    latest = runs[0] if runs else None
    by_res: dict[tuple[str, str], list] = defaultdict(list)
    for row in res_rows:
        by_res[(row.platform, row.resource)].append(row)
    resources = []
    for key, hist in sorted(by_res.items()):
        last = hist[-1]
        resources.append({**{k: getattr(last, k) for k in ("platform", "resource", "status", "rows_checked",
                                                            "rows_promoted", "rows_quarantined", "rows_released",
                                                            "rows_live", "reason")},
                          "gate": gates.get(key, "—"), "open_quarantine": open_q.get(key, 0),
                          "trend": " → ".join(h.status for h in hist)})
    by_check: dict[tuple[str, str, str], list] = defaultdict(list)
    for row in chk_rows:
        by_check[(row.platform, row.resource, row.check_name)].append(row)
    checks: dict[str, list] = defaultdict(list)
    for (p, r, _name), hist in sorted(by_check.items()):
        last = hist[-1]
        checks[f"{p} / {r}"].append({
            "check_name": last.check_name, "severity": last.severity, "threshold": last.threshold,
            "rows_checked": last.rows_checked, "rows_failed": last.rows_failed,
            "rate": _rate(last.rows_checked, last.rows_failed), "outcome": last.outcome,
            "trend": " ".join(_rate(h.rows_checked, h.rows_failed) for h in hist)})
    html = Environment(autoescape=select_autoescape(default=True)).from_string(_TEMPLATE).render(
        latest={"id": latest.id, "status": latest.status, "finished_at": latest.finished_at,
                "docs": docs_link(latest)} if latest else {"id": "—", "status": "none", "finished_at": "—"},
        resources=resources, checks=checks,
        runs=[{"id": r.id, "ingest_run_id": r.ingest_run_id, "status": r.status, "finished_at": r.finished_at,
               "docs": docs_link(r)} for r in runs])
    path = out_dir / "index.html"
    path.write_text(html, encoding="utf-8")
    return path
