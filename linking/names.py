"""Chinese names for matching: pinyin readings per character, without tones.

Names arrive normalised (``landing.normalize.normalize_name``: full width, spaces, middle
dots, traditional -> simplified). What is left is the typist's choice of character for a
sound — the property platform's homophone typos (``郭英贞`` for ``郭英珍``). Two names are
homophones when they have the same length and every pair of characters shares a reading;
polyphonic characters keep all their readings (``乐``: le, yue).

The reading table is pypinyin's character dictionary, reduced once to toneless ASCII;
a lookup costs a dict access per character (pypinyin's own ``lazy_pinyin`` is ~70 µs a
name, too slow for millions of records).
"""

from __future__ import annotations

import os
import sys
import unicodedata
from functools import cache, lru_cache

__all__ = ["homophones", "name_key", "readings"]


@cache
def _table() -> dict[int, frozenset[str]]:
    # pypinyin loads its phrase dictionary on import unless told not to (its documented
    # switch): ~34 MB that only its phrase-aware readings use, and names are read a
    # character at a time here. Set only when no one has imported pypinyin yet.
    if "pypinyin" not in sys.modules:
        os.environ.setdefault("PYPINYIN_NO_PHRASES", "1")
    from pypinyin.pinyin_dict import pinyin_dict

    out: dict[int, frozenset[str]] = {}
    for cp, joined in pinyin_dict.items():
        out[cp] = frozenset(_toneless(r) for r in joined.split(","))
    return out


def _toneless(reading: str) -> str:
    s = unicodedata.normalize("NFKD", reading)
    return "".join(c for c in s if not unicodedata.combining(c)).replace("ü", "v")


def readings(ch: str) -> frozenset[str]:
    """The toneless readings of one character; the character itself if it has none."""
    return _table().get(ord(ch)) or frozenset((ch,))


@lru_cache(maxsize=1 << 20)
def name_key(name: str) -> str:
    """A blocking key: the alphabetically first reading of every character (the same
    choice on both sides of a comparison), joined by ``-``; a character without a reading
    (Latin script) case-folded.

    Homophone typos of a name usually share its key; polyphonic characters may not, so
    blocking on this key is one of several passes, never the only one."""
    table = _table()
    parts = []
    for ch in name.casefold():
        r = table.get(ord(ch))
        parts.append(min(r) if r else ch)
    return "-".join(parts)


def homophones(a: str, b: str) -> bool:
    """Same length, and every pair of characters is the same or shares a reading."""
    if len(a) != len(b):
        return False
    return all(x == y or readings(x) & readings(y) for x, y in zip(a, b, strict=True))
