"""How well the quarantine matches a ground truth of unusable records (the simulators'
``Truth``): confusion counts per resource, over the live current versions in staging."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, exists, not_, select

from quality.suites import SUITES
from schemas.quality import QualityQuarantine
from schemas.staging import staging_table

__all__ = ["Confusion", "quarantine_confusion"]


@dataclass
class Confusion:
    held_unusable: int = 0  # true positives
    held_usable: int = 0  # false positives
    passed_unusable: int = 0  # false negatives
    passed_usable: int = 0  # true negatives

    def add(self, other: Confusion) -> None:
        for k in vars(self):
            setattr(self, k, getattr(self, k) + getattr(other, k))

    @property
    def precision(self) -> float:
        held = self.held_unusable + self.held_usable
        return self.held_unusable / held if held else 1.0

    @property
    def recall(self) -> float:
        unusable = self.held_unusable + self.passed_unusable
        return self.held_unusable / unusable if unusable else 1.0


def quarantine_confusion(engine: Engine, truth) -> dict[tuple[str, str], Confusion]:  # noqa: ANN001
    """Per resource: held back (an open quarantine row for the record's current version)
    against unusable in ``truth``. Records the truth does not know are skipped."""
    q = QualityQuarantine
    out: dict[tuple[str, str], Confusion] = {}
    with engine.connect() as conn:
        for platform, resource in SUITES:
            t = staging_table(platform, resource)
            held = exists().where(q.platform == platform, q.resource == resource, q.released_at.is_(None),
                                  q.record_id == t.c.record_id, q.version_hash == t.c.version_hash)
            c = Confusion()
            for record_id, is_held in conn.execute(select(t.c.record_id, held).where(not_(t.c.deleted))):
                try:
                    unusable = truth.record(platform, resource, record_id).unusable
                except KeyError:
                    continue
                if is_held:
                    c.held_unusable += unusable
                    c.held_usable += not unusable
                else:
                    c.passed_unusable += unusable
                    c.passed_usable += not unusable
            out[(platform, resource)] = c
    return out
