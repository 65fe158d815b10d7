"""The stewards' findings page and the outreach lists, written after every judging run
under ``HUB_HOME/reports/findings``:

* ``index.html`` — the latest run (window, registry release), per rule: what it checks,
  the policy clause, open findings, new and closed this run, money at risk, stewards'
  decisions, and the trend over the last runs;
* ``outreach/<district>.csv`` — the omission findings (``MISSED_*``: eligible elders not
  served) of one district, by town, for the district's service centre to reach out;
  ``outreach/summary.csv`` — how many per district, town and rule.

No personal data: persons are named by their registry ids (looked up through the API with
a grant that allows it).
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

from jinja2 import Environment, select_autoescape
from sqlalchemy import Engine, func, select

from rules.definitions import RULES
from rules.findings import explain, finding_counts
from schemas.findings import Finding, RuleRun

__all__ = ["write_reports"]

TREND_RUNS = 10

_TEMPLATE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>Elder Data Hub — subsidy findings</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3} td.l,th.l{text-align:left} small{color:#666}
</style></head><body>
<h1>Subsidy findings 补贴重复与遗漏</h1>
<p>Latest judging: run {{ run.id }} ({{ run.status }}) over registry release {{ run.release }},
window {{ run.window_start }} .. {{ run.as_of }} (the platforms' clock), finished {{ run.finished_at }} UTC.</p>
{% for w in warnings %}<p><b>Warning:</b> {{ w }}</p>{% endfor %}
<table><tr><th class="l">rule</th><th class="l">what it checks</th><th class="l">clause</th><th>open</th>
<th>new</th><th>closed</th><th>at risk (yuan)</th><th>confirmed</th><th>dismissed</th><th>fixed</th>
<th class="l">found, last runs</th></tr>
{% for r in rules %}<tr><td class="l">{{ r.code }}</td><td class="l"><small>{{ r.checks }}</small></td>
<td class="l">{{ r.clause }}</td><td>{{ "{:,}".format(r.open) }}</td><td>{{ "{:,}".format(r.new) }}</td>
<td>{{ "{:,}".format(r.closed) }}</td><td>{{ r.amount }}</td><td>{{ r.confirmed }}</td><td>{{ r.dismissed }}</td>
<td>{{ r.fixed }}</td><td class="l">{{ r.trend }}</td></tr>
{% endfor %}</table>
<h2>Outreach lists 主动服务清单</h2>
<p>Eligible elders not served (MISSED_*), by district: {% for d in districts %}<a href="outreach/{{ d }}.csv">{{ d }}</a>
{% endfor %} — <a href="outreach/summary.csv">summary</a>.</p>
<p><small>Decisions: <code>hub finding decide FINDING_ID confirmed|dismissed|fixed --steward NAME [--reason …]</code>;
all findings: <code>hub export findings</code>.</small></p>
</body></html>
"""


def write_reports(engine: Engine, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    with engine.connect() as conn:
        runs = conn.execute(select(RuleRun).where(RuleRun.status == "done").order_by(RuleRun.id.desc())
                            .limit(TREND_RUNS)).all()
        if not runs:
            return out_dir / "index.html"
        latest = runs[0]
        counts = finding_counts(conn)
        f = Finding.__table__.c
        amounts = dict(conn.execute(select(f.rule, func.sum(f.amount_at_risk)).where(f.state == "open")
                                    .group_by(f.rule)).all())
        outreach = conn.execute(select(Finding.__table__).where(
            f.state == "open", f.rule.in_([r.code for r in RULES if r.omission])).order_by(
            f.district_code, f.town, f.rule, f.period, f.finding_id)).all()
    stats = (latest.stats or {}).get("rules", {})
    rows = []
    for r in RULES:
        c = counts.get(r.code, {})
        s = stats.get(r.code, {})
        trend = " → ".join(str((run.stats or {}).get("rules", {}).get(r.code, {}).get("found", "-"))
                           for run in reversed(runs))
        rows.append({"code": r.code, "checks": r.checks, "clause": r.clause, "open": c.get("open", 0),
                     "new": s.get("new", 0), "closed": s.get("closed", 0),
                     "amount": f"{amounts.get(r.code) or 0:,.2f}", "confirmed": c.get("confirmed", 0),
                     "dismissed": c.get("dismissed", 0), "fixed": c.get("fixed", 0), "trend": trend})
    districts = _outreach(outreach, out_dir / "outreach")
    html = Environment(autoescape=select_autoescape()).from_string(_TEMPLATE).render(
        run=latest, rules=rows, districts=districts, warnings=(latest.stats or {}).get("warnings", []))
    index = out_dir / "index.html"
    index.write_text(html, encoding="utf-8")
    return index


def _outreach(findings: list, out: Path) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.csv"):
        old.unlink()
    by_district: dict[str, list] = defaultdict(list)
    summary: Counter = Counter()
    for f in findings:
        d = f.district_code or "unknown"
        by_district[d].append(f)
        summary[(d, f.town or "", f.rule)] += 1
    for d, rows in by_district.items():
        with (out / f"{d}.csv").open("w", newline="", encoding="utf-8-sig") as fh:
            w = csv.writer(fh)
            w.writerow(["district_code", "town", "rule", "person_id", "period", "finding_id", "说明", "explanation"])
            for f in rows:
                e = explain(f)
                w.writerow([f.district_code, f.town, f.rule, f.person_id, f.period, f.finding_id, e["zh"], e["en"]])
    with (out / "summary.csv").open("w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(["district_code", "town", "rule", "open findings"])
        for (d, town, code), n in sorted(summary.items()):
            w.writerow([d, town, code, n])
    return sorted(by_district)
