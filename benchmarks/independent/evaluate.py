"""Score a hub persons export against gen.py's (or mutate.py's) truth.json.
Usage: python evaluate.py persons.ndjson [--truth data/truth.json] [--examples N]
                          [--quarantined FILE | --hub-db hub.db] [--json metrics.json]
Prints masked examples only (IDs first 6, names first char + *).

--hub-db reads the hub's SQLite database (read-only): the records it holds in quarantine
(else --quarantined, lines platform/resource/record_id) and its as-of date (the newest
server_time of a successful ingest batch, in Asia/Shanghai), compared with the truth's.
--json writes the figures (no personal data) for bench_independent.py."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
from collections import Counter, defaultdict
from itertools import combinations

ap = argparse.ArgumentParser()
ap.add_argument("persons")
ap.add_argument("--truth", default="data/truth.json")
ap.add_argument("--examples", type=int, default=4)
ap.add_argument("--quarantined", default=None, help="file with lines platform/resource/record_id")
ap.add_argument("--hub-db", default=None, help="the hub's SQLite file: quarantine and as-of date")
ap.add_argument("--json", default=None, help="write the figures here")
a = ap.parse_args()

with open(a.truth) as fh:
    T = json.load(fh)
P = T["persons"]
PERSON_RES = {("public_security", "residents"), ("civil_affairs", "elders"), ("health", "family-doctor-contracts"),
              ("health", "death-certificates"), ("medical_insurance", "insured-persons"),
              ("medical_insurance", "ltc-enrolments"), ("property_mgmt", "service-orders")}
recs = {}
for r in T["records"]:
    recs[(r["platform"], r["resource"], r["record_id"])] = r
quar = set()
if a.quarantined:
    with open(a.quarantined) as fh:
        for line in fh:
            if line.strip():
                quar.add(tuple(line.strip().split("/", 2)))
hub_as_of = None
if a.hub_db:
    db = sqlite3.connect(f"file:{a.hub_db}?mode=ro", uri=True)
    if not a.quarantined:
        quar = set(db.execute("select distinct platform, resource, record_id from quality_quarantine "
                              "where released_at is null"))
    newest = db.execute("select max(server_time) from ingest_batch where status = 'success'").fetchone()[0]
    db.close()
    if newest:
        hub_as_of = (dt.datetime.fromisoformat(newest).replace(tzinfo=dt.UTC)
                     .astimezone(dt.timezone(dt.timedelta(hours=8))).date().isoformat())
    print(f"as-of date: hub {hub_as_of}, truth {T['as_of']}"
          + ("" if hub_as_of == T["as_of"] else "  <-- DIFFERENT: who is 60+ is judged on another day"))


def mname(n):
    n = (n or "").strip()
    return (n[:1] + "*") if n else "''"


def mid(i):
    return (i or "")[:6] + "…" if i else "''"


linked = {}
persons = []
with open(a.persons) as fh:
    for line in fh:
        p = json.loads(line)
        persons.append(p)
        for link in p.get("links", []):
            k = (link["platform"], link["resource"], link["record_id"])
            if k in linked:
                print("RECORD LINKED TWICE", k)
            linked[k] = (p["person_id"], link.get("method"), link.get("confidence"))

in_scope = {pid for pid, p in P.items() if p["registry_scope"]}
live = {k: r for k, r in recs.items() if not r["deleted"] and r["pid"] is not None}
print(f"truth: {len(P)} persons, {len(in_scope)} registry-scope elders; {len(live)} live person-describing records "
      f"({sum(1 for r in live.values() if r['pid'] in in_scope)} of registry-scope persons)")
print(f"hub: {len(persons)} persons, {len(linked)} links")

unknown = [k for k in linked if k not in recs]
if unknown:
    print("links to records unknown to truth:", len(unknown), unknown[:5])
dead_linked = [k for k, r in recs.items() if r["deleted"] and k in linked]
print("tombstoned records still linked:", len(dead_linked), dead_linked[:5])

# pairwise
pred = defaultdict(list)
for k, (pid, _method, _conf) in linked.items():
    if k in live:
        pred[pid].append(k)
true = defaultdict(list)
for k, r in live.items():
    if r["pid"] in in_scope:
        true[r["pid"]].append(k)


def pairs(groups):
    s = set()
    for g in groups.values():
        for x, y in combinations(sorted(g), 2):
            s.add((x, y))
    return s


pp, tp = pairs(pred), pairs(true)
inter = len(pp & tp)
prec = inter / len(pp) if pp else 1
rec = inter / len(tp) if tp else 1
f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
print(f"\npairwise: predicted pairs {len(pp)}, true pairs {len(tp)}, common {inter}: "
      f"precision {prec:.4f} recall {rec:.4f} F1 {f1:.4f}")
rec_nq = None
if quar:
    live2 = {k for k in live if k not in quar}
    tp2 = {x for x in tp if x[0] in live2 and x[1] in live2}
    rec_nq = len(pp & tp2) / len(tp2) if tp2 else 1
    print(f"  recall over records not quarantined: {rec_nq:.4f} ({len(tp2)} true pairs)")

# non-elder records linked
ne = [(k, linked[k][0]) for k, r in live.items() if r["pid"] not in in_scope and k in linked]
print(f"\nnon-registry-scope records linked to a person: {len(ne)}")
for k, pidh in ne[:a.examples]:
    r = live[k]
    pp_ = P[r["pid"]]
    print(f"   {k} true {r['pid']} kind={pp_['kind']} born {pp_['birth']} tags={r['tags']} -> {pidh}")

# person-level
maj = {}
for pidh, ks in pred.items():
    c = Counter(live[k]["pid"] for k in ks)
    maj[pidh] = c
merged = {h: c for h, c in maj.items() if len(c) > 1}
split = defaultdict(set)
for h, c in maj.items():
    for tpid in c:
        split[tpid].add(h)
splits = {t: hs for t, hs in split.items() if len(hs) > 1}
covered = {t for t in split if t in in_scope}
persons_noscope = [h for h, c in maj.items() if c.most_common(1)[0][0] not in in_scope]
print(f"\nhub persons {len(persons)} vs true registry-scope elders {len(in_scope)}; "
      f"elders with >=1 record linked {len(covered)}; missing elders {len(in_scope - covered)}")
print(f"persons whose records are mostly a non-scope person: {len(persons_noscope)}")
print(f"merged persons (hub person holding records of >1 true person): {len(merged)}")
for h, c in list(merged.items())[:a.examples]:
    ks = pred[h]
    desc = []
    for k in ks:
        r = live[k]
        desc.append(f"{k[0][:4]}/{k[1][:6]}:{r['pid']}{'+' + ','.join(r['tags']) if r['tags'] else ''}")
    print(f"   {h}: {dict(c)} :: {'; '.join(desc)}")
print(f"split persons (true person spread over >1 hub person): {len(splits)}")
for t, hs in list(splits.items())[:a.examples]:
    pp_ = P[t]
    desc = []
    for h in sorted(hs):
        desc.append(h + "[" + ", ".join(f"{k[0][:4]}/{k[1][:6]}{'+' + ','.join(live[k]['tags']) if live[k]['tags'] else ''}" for k in pred[h] if live[k]["pid"] == t) + "]")
    print(f"   {t} {mname(pp_['name'])} {mid(pp_['id'])} kind={pp_['kind']}: {' | '.join(desc)}")
missing = sorted(in_scope - covered)
if missing:
    print("missing elders examples:", [(t, P[t]["kind"], mid(P[t]["id"])) for t in missing[:a.examples]])

# unlinked records of registry-scope elders
unl = [k for k, r in live.items() if r["pid"] in in_scope and k not in linked]
print(f"\nrecords of registry-scope elders left unlinked: {len(unl)}")
by_res = Counter(f"{k[0]}/{k[1]}" for k in unl)
for res, n in by_res.most_common():
    print(f"   {res:40s} {n}")
tagc = Counter()
for k in unl:
    tg = live[k]["tags"] or ["(no noise)"]
    for t in tg:
        tagc[t] += 1
print("   by noise tag:", dict(tagc.most_common()))
unl_quar = sum(1 for k in unl if k in quar)
if quar:
    print("   of which quarantined by the hub:", unl_quar)
# misassigned: linked to a person whose majority is another true person
wrong = []
for k, (h, m, c) in linked.items():
    if k in live and live[k]["pid"] in in_scope:
        top = maj[h].most_common(1)[0][0]
        if top != live[k]["pid"]:
            wrong.append((k, h, m, c))
print(f"records of elders linked to the wrong person: {len(wrong)}")
for k, h, m, c in wrong[:a.examples]:
    r = live[k]
    print(f"   {k} true {r['pid']} tags={r['tags']} -> {h} (majority {maj[h].most_common(1)[0][0]}) method={m} conf={c}")

# golden record checks
bad = Counter()
ex = defaultdict(list)
for p in persons:
    c = maj.get(p["person_id"])
    if not c:
        bad["person_without_live_links"] += 1
        continue
    t = c.most_common(1)[0][0]
    tp_ = P[t]
    checks = {
        "id_card_no": p.get("id_card_no") == tp_["id"],
        "gender": p.get("gender") == tp_["gender"],
        "birth_date": p.get("birth_date") == tp_["birth"],
        "status": p.get("status") == tp_["status"],
        "death_date": (p.get("death_date") or None) == (tp_["death"] if tp_["status"] == "deceased" else None),
        "district_code": p.get("district_code") == tp_["district"],
        "name": (p.get("name") or "") == tp_["name"],
    }
    for f, ok in checks.items():
        if not ok:
            bad[f] += 1
            if len(ex[f]) < a.examples:
                hv = p.get(f)
                tv = {"id_card_no": tp_["id"], "birth_date": tp_["birth"], "death_date": tp_["death"],
                      "district_code": tp_["district"], "name": tp_["name"], "status": tp_["status"],
                      "gender": tp_["gender"]}[f]
                if f == "id_card_no":
                    hv, tv = mid(hv) + (f"(len {len(hv)})" if hv else ""), mid(tv)
                if f == "name":
                    hv, tv = (hv or "")[:1] + f"*(len {len(hv or '')})", tv[:1] + f"*(len {len(tv)})"
                ex[f].append(f"{p['person_id']}/{t} kind={tp_['kind']}: hub={hv} truth={tv}")
print("\ngolden-record field disagreements with truth:", dict(bad))
for f, xs in ex.items():
    for x in xs:
        print(f"   {f}: {x}")

if a.json:
    figures = {
        "truth_as_of": T["as_of"], "hub_as_of": hub_as_of,
        "precision": prec, "recall": rec, "f1": f1, "recall_not_quarantined": rec_nq,
        "predicted_pairs": len(pp), "true_pairs": len(tp),
        "non_elder_linked": len(ne), "hub_persons": len(persons), "true_elders": len(in_scope),
        "missing_elders": len(in_scope - covered), "merged": len(merged), "split": len(splits),
        "elder_records_unlinked": len(unl), "elder_records_unlinked_quarantined": unl_quar,
        "wrong_person": len(wrong), "tombstoned_linked": len(dead_linked), "unknown_links": len(unknown),
        "golden_disagreements": sum(n for f, n in bad.items() if f != "person_without_live_links"),
        "golden_by_field": dict(bad),
    }
    with open(a.json, "w") as fh:
        json.dump(figures, fh, indent=1)
