"""The little SQL the rules need that SQLite and PostgreSQL spell differently, and the
parameter lookup every rule shares.

Rules are plain SQL text (``rules.definitions``) so that a reviewer reads them as the
database runs them; the few dialect-specific pieces are written ``{add_years(x, n)}``
and expanded here.
"""

from __future__ import annotations

__all__ = ["add_years", "materialized", "param", "year_of"]


def add_years(dialect: str, expr: str, years: str) -> str:
    """The date ``years`` (an SQL expression) full years after ``expr``: the day a person
    born on ``expr`` reaches that age (周岁). Someone born on 29 February reaches it on
    1 March of a common year, on both engines."""
    if dialect == "sqlite":
        return f"date({expr}, '+' || CAST({years} AS INTEGER) || ' years')"
    # PostgreSQL would land 29 February on the 28th: go from the day before, then add one
    return f"(({expr} - 1) + make_interval(years => CAST({years} AS INTEGER)))::date + 1"


def materialized(dialect: str) -> str:
    """``WITH x AS {materialized(d)} (…)``: compute the CTE once, as written, and keep the
    planner from folding it into the outer query. Folded, a correlated subquery the CTE
    computes once per row is run again wherever the outer query names its column, and
    joins below the outer query's parameter lookups are estimated at a few rows and run
    as a lookup per row. PostgreSQL 12+ and SQLite 3.35+ know the keyword."""
    del dialect  # both engines spell it the same; kept for the rules' calling convention
    return "MATERIALIZED"


def year_of(dialect: str, expr: str) -> str:
    """The calendar year of the date ``expr``, as an integer."""
    if dialect == "sqlite":
        return f"CAST(strftime('%Y', {expr}) AS INTEGER)"
    return f"CAST(EXTRACT(YEAR FROM {expr}) AS INTEGER)"


def param(alias: str, name: str, on: str, *, district: str | None = None, key: str | None = None) -> tuple[str, str]:
    """JOIN clauses that pick the value of policy parameter ``name`` in force on the date
    ``on`` (an SQL expression) — the district's own value (``district``: an SQL
    expression for the area code) before the city-wide one — and the SQL expression of
    that value. A date no city-wide value covers has no row: the rule does not judge it.

    ``key`` (an SQL expression) selects a keyed parameter's value (the card type)."""
    k = f" AND {alias}.key = CAST({key} AS VARCHAR(16))" if key else ""
    joins = (f"JOIN policy_param {alias} ON {alias}.name = '{name}' AND {alias}.district_code IS NULL"
             f" AND {on} BETWEEN {alias}.valid_from AND {alias}.valid_to{k}")
    value = f"{alias}.value"
    if district:
        joins += (f" LEFT JOIN policy_param {alias}_d ON {alias}_d.name = '{name}'"
                  f" AND {alias}_d.district_code = {district}"
                  f" AND {on} BETWEEN {alias}_d.valid_from AND {alias}_d.valid_to"
                  + (f" AND {alias}_d.key = CAST({key} AS VARCHAR(16))" if key else ""))
        value = f"COALESCE({alias}_d.value, {alias}.value)"
    return joins, value
