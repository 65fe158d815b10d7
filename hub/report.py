"""The run summary stewards and engineers open first: ``HUB_HOME/reports/index.html``,
written on every publication — what the latest ingest read per resource, what quality
did, which registry release is published and whether any of its sources is stale, and the
findings per rule — with links to the quality and findings pages. Counts only: no
personal data.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, select_autoescape
from sqlalchemy import Engine, func, select

from registry.publish import current_publication
from rules.findings import finding_counts
from schemas.landing import IngestBatch, IngestRun
from schemas.quality import QualityRun
from schemas.registry import RegistryRelease

__all__ = ["write_summary"]

_TEMPLATE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>Elder Data Hub — run summary</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3} td.l,th.l{text-align:left} .stale{background:#fdd} small{color:#666}
</style></head><body>
<h1>Elder Data Hub 养老数据汇聚平台</h1>
{% if pub %}<p>Published: registry release <b>{{ pub.release }}</b> ({{ release.persons | default(0) }} persons,
{{ release.links | default(0) }} linked records; as of {{ release.as_of }}), publication {{ pub.id }}
({{ pub.kind }}) at {{ pub.published_at }} UTC.
{% if pub.stale %}<b>Some sources are stale</b>: the registry carries their last good data.{% else %}Every source is fresh.{% endif %}</p>
{% else %}<p>Nothing published yet.</p>{% endif %}
<p><a href="quality/index.html">Data quality</a> · <a href="findings/index.html">Subsidy findings</a></p>
<h2>Sources</h2>
<table><tr><th class="l">platform / resource</th><th class="l">state</th><th class="l">last good read (UTC)</th>
<th>received (latest run)</th><th>new</th><th>rejected</th><th class="l">why stale</th></tr>
{% for s in sources %}<tr class="{{ s.status }}"><td class="l">{{ s.key }}</td><td class="l">{{ s.status }}</td>
<td class="l">{{ s.last_good or "never" }}</td><td>{{ "{:,}".format(s.received) }}</td><td>{{ "{:,}".format(s.new) }}</td>
<td>{{ "{:,}".format(s.rejected) }}</td><td class="l"><small>{{ s.reason or "" }}</small></td></tr>
{% endfor %}</table>
<p>Latest ingest run {{ run.id if run else "-" }} ({{ run.status if run else "-" }});
latest validation {{ quality.id if quality else "-" }} ({{ quality.status if quality else "-" }}).</p>
<h2>Findings</h2>
<table><tr><th class="l">rule</th><th>open</th><th>closed</th><th>confirmed</th><th>dismissed</th><th>fixed</th></tr>
{% for code, c in findings.items() %}<tr><td class="l">{{ code }}</td><td>{{ c.open }}</td><td>{{ c.closed }}</td>
<td>{{ c.confirmed }}</td><td>{{ c.dismissed }}</td><td>{{ c.fixed }}</td></tr>{% endfor %}</table>
</body></html>
"""


def write_summary(engine: Engine, reports: Path) -> Path:
    reports.mkdir(parents=True, exist_ok=True)
    with engine.connect() as conn:
        pub = current_publication(conn)
        release = None
        if pub is not None:
            release = conn.execute(select(RegistryRelease.__table__).where(
                RegistryRelease.release == pub.release)).first()
        run = conn.execute(select(IngestRun.__table__).order_by(IngestRun.id.desc()).limit(1)).first()
        b = IngestBatch.__table__.c
        latest = {}
        if run is not None:
            last = select(func.max(b.id)).where(b.run_id == run.id).group_by(b.platform, b.resource)
            latest = {f"{r.platform}/{r.resource}": r for r in conn.execute(
                select(IngestBatch.__table__).where(b.id.in_(last)))}
        quality = conn.execute(select(QualityRun.__table__).order_by(QualityRun.id.desc()).limit(1)).first()
        findings = dict(sorted(finding_counts(conn).items()))
    sources = []
    for key, src in ((pub.sources or {}) if pub is not None else {}).items():
        r = latest.get(key)
        sources.append({"key": key, "status": src["status"], "reason": src["reason"],
                        "last_good": (src["last_good"] or "")[:19].replace("T", " "),
                        "received": r.received if r else 0, "new": r.landed_new if r else 0,
                        "rejected": r.rejected if r else 0})
    html = Environment(autoescape=select_autoescape()).from_string(_TEMPLATE).render(
        pub=pub, release=release, run=run, quality=quality, sources=sources, findings=findings)
    out = reports / "index.html"
    out.write_text(html, encoding="utf-8")
    return out
