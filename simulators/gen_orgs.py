"""The organisations the synthetic records point at: service centres, canteens, care
providers, welfare institutions, health centres and family-doctor teams, and property
companies with their published service catalogues. Counts grow slowly with the
population so that a city-scale run has a plausible number of institutions."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import orjson

from simulators.gen_common import money
from simulators.gen_reference import (
    COMMUNITY_SUFFIX,
    COMMUNITY_WORDS,
    DISTRICT_NAMES,
    DISTRICTS,
    PROPERTY_SERVICES,
    PROPERTY_WORDS_A,
    PROPERTY_WORDS_B,
    ROADS,
    TOWNS,
    USCC_BODY_CHARS,
    uscc_code,
)

__all__ = ["Company", "Orgs", "build_orgs"]


@dataclass
class Company:
    credit_code: str
    name: str
    communities: list[str]
    #: published price in cents by service type (types it does not offer are absent)
    prices: dict[str, int]
    #: a service type the company does not publish (None when it publishes all)
    unlisted: str | None


@dataclass
class Orgs:
    centres: dict[str, list[str]] = field(default_factory=dict)  # one per town
    canteens: dict[str, list[list[str]]] = field(default_factory=dict)  # per town
    providers: dict[str, list[str]] = field(default_factory=dict)  # home-care providers
    institutions: dict[str, list[str]] = field(default_factory=dict)  # welfare institutions
    health: dict[str, list[str]] = field(default_factory=dict)  # community health centres
    teams: dict[str, list[str]] = field(default_factory=dict)  # family-doctor teams
    companies: dict[str, list[Company]] = field(default_factory=dict)
    catalogs: dict[str, bytes] = field(default_factory=dict)


def build_orgs(seed: int, elders: int) -> Orgs:
    rng = random.Random(f"orgs:{seed}")
    used: set[str] = set()

    def code(prefix2: str, area: str) -> str:
        while True:
            body = "".join(rng.choice(USCC_BODY_CHARS[:10]) for _ in range(2)) + "".join(
                rng.choice(USCC_BODY_CHARS) for _ in range(6)
            )
            c = uscc_code(prefix2, area, body)
            if c not in used:
                used.add(c)
                return c

    scale = max(1, elders)
    per_town_canteens = min(4, 1 + scale // 40_000)
    n_providers = min(30, 3 + scale // 30_000)
    n_institutions = min(30, 3 + scale // 30_000)
    n_health = min(40, 2 + scale // 25_000)
    n_companies = min(60, 3 + scale // 15_000)

    o = Orgs()
    for dcode, _name, _w, _rural in DISTRICTS:
        towns = TOWNS[dcode]
        o.centres[dcode] = [code("52", dcode) for _ in towns]
        o.canteens[dcode] = [[code("52", dcode) for _ in range(per_town_canteens)] for _ in towns]
        o.providers[dcode] = [code("52", dcode) for _ in range(n_providers)]
        o.institutions[dcode] = [
            code("52" if rng.random() < 0.6 else "12", dcode) for _ in range(n_institutions)
        ]
        o.health[dcode] = [code("12", dcode) for _ in range(n_health)]
        o.teams[dcode] = [
            f"{dcode}{h + 1:02d}T{t + 1:02d}" for h in range(n_health) for t in range(3)
        ]
        comps = []
        for _ in range(n_companies):
            credit = code("91", dcode)
            name = (
                f"青岛{rng.choice(PROPERTY_WORDS_A)}{rng.choice(PROPERTY_WORDS_B)}"
                f"{rng.choice(['物业管理', '物业服务', '城市服务'])}有限公司"
            )
            roads = ROADS[dcode]
            communities = sorted(
                {
                    f"{rng.choice(COMMUNITY_WORDS)}{rng.choice(COMMUNITY_SUFFIX)}"
                    if rng.random() < 0.6
                    else f"{rng.choice(roads)}{rng.choice(COMMUNITY_SUFFIX)}"
                    for _ in range(rng.randint(3, 8))
                }
            )
            prices: dict[str, int] = {}
            items = []
            unlisted = None
            for stype, desc, lo, hi in PROPERTY_SERVICES:
                if stype not in ("housekeeping", "medicine_delivery", "shopping") and (
                    rng.random() < 0.25
                ):
                    unlisted = unlisted or stype
                    continue
                cents = rng.randint(lo, hi) * 100 + (50 if rng.random() < 0.2 else 0)
                prices[stype] = cents
                items.append(
                    {
                        "service_type": stype,
                        "description": desc,
                        "price": money(cents),
                        "complaint_phone": f"0532-8{rng.randint(0, 9_999_999):07d}",
                    }
                )
            comps.append(Company(credit, name, communities, prices, unlisted))
            o.catalogs[credit] = orjson.dumps({"company_credit_code": credit, "items": items})
        o.companies[dcode] = comps
    # district names are used in addresses
    assert set(o.centres) == set(DISTRICT_NAMES)
    return o
