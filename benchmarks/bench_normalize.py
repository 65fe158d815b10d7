"""Micro-benchmark of the per-row normalisers (not a test).

    uv run python benchmarks/bench_normalize.py [N]

Generates N (default 1,000,000) ID numbers, names and phones with the contract's noise
mixed in (about 15% of values noisy), then prints rows/second for normalize_id_card,
normalize_name, normalize_phone and for all three per row. Caches are cleared before
each timing, so the figures include cache warm-up. IDs are all distinct (worst case for
the caches); names are drawn from realistic surname/given-name pools and so repeat.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import date, timedelta

from landing import normalize as nz

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"
AREAS = list(nz.CURRENT_AREA_CODES) + list(nz.RETIRED_AREA_CODES)
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董"
    "袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟"
    "熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红建国建华德福淑珍凤兰桂兰玉珍"
TRAD = {
    "张": "張",
    "刘": "劉",
    "陈": "陳",
    "杨": "楊",
    "黄": "黃",
    "赵": "趙",
    "华": "華",
    "国": "國",
    "兰": "蘭",
}
DOTS = "·•．.・"


def make_id(rng: random.Random, i: int) -> str:
    born = date(1930, 1, 1) + timedelta(days=rng.randrange(365 * 40))
    body = f"{rng.choice(AREAS)}{born:%Y%m%d}{i % 1000:03d}"
    check = CHECK[sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11]
    full = body + check
    r = rng.random()
    if r < 0.85:
        return full
    if r < 0.88:
        return full[:6] + full[8:17]  # legacy 15
    if r < 0.91:
        return full.lower() if check == "X" else " " + full + " "
    if r < 0.94:
        return full.translate({ord(c): chr(ord(c) + 0xFEE0) for c in "0123456789X"})
    if r < 0.97:
        return full[:17] + ("0" if check != "0" else "1")  # wrong check digit
    if r < 0.99:
        return full[:10] + full[11] + full[10] + full[12:]  # transposed
    return ""


def make_name(rng: random.Random) -> str:
    if rng.random() < 0.02:
        return "阿不都" + rng.choice(DOTS) + "热合曼"
    name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))
    r = rng.random()
    if r < 0.05:
        name = "".join(TRAD.get(c, c) for c in name)
    elif r < 0.08:
        name = name[0] + " " + name[1:]
    elif r < 0.10:
        name = " " + name + "　"
    return name


def make_phone(rng: random.Random) -> str:
    mobile = "1" + rng.choice("3456789") + f"{rng.randrange(10**9):09d}"
    r = rng.random()
    if r < 0.80:
        return mobile
    if r < 0.85:
        return "+86 " + mobile
    if r < 0.90:
        return f"{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}"
    if r < 0.95:
        return f"0532-{rng.randrange(10**8):08d}"
    return ""


def bench(label: str, fn, values: list) -> float:
    t0 = time.perf_counter()
    for v in values:
        fn(v)
    dt = time.perf_counter() - t0
    print(f"{label:<28} {len(values) / dt:>12,.0f} rows/s  ({dt:.2f} s)")
    return dt


def clear_caches() -> None:
    nz._ymd.cache_clear()
    nz._normalize_name_cached.cache_clear()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rng = random.Random(20240305)
    ids = [make_id(rng, i) for i in range(n)]
    names = [make_name(rng) for _ in range(n)]
    phones = [make_phone(rng) for _ in range(n)]
    print(f"{n:,} values each; distinct names: {len(set(names)):,}")
    clear_caches()
    bench("normalize_id_card", nz.normalize_id_card, ids)
    clear_caches()
    bench("normalize_name", nz.normalize_name, names)
    bench("normalize_phone", nz.normalize_phone, phones)
    clear_caches()
    id_card, name, phone = nz.normalize_id_card, nz.normalize_name, nz.normalize_phone
    t0 = time.perf_counter()
    for a, b, c in zip(ids, names, phones, strict=True):
        id_card(a)
        name(b)
        phone(c)
    dt = time.perf_counter() - t0
    print(f"{'all three per row':<28} {n / dt:>12,.0f} rows/s  ({dt:.2f} s)")


if __name__ == "__main__":
    main()
