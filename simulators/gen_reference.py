"""Static reference data and small pure helpers for the synthetic population generator.

Everything here is deterministic and free of randomness: districts and towns of Qingdao,
name pools, the official working-day calendar, and the check-digit algorithms of the
resident ID number (GB 11643) and the unified social credit code (GB 32100).
"""

from __future__ import annotations

from datetime import date

__all__ = [
    "DISTRICTS",
    "DISTRICT_CODES",
    "MAKEUP_WORKDAYS",
    "REST_DAYS",
    "RETIRED_CODES",
    "id_check_char",
    "id_is_valid",
    "is_rest_day",
    "is_working_day",
    "uscc_code",
]


def _w(text: str) -> list[str]:
    """Space-separated words (keeps the long reference lists compact)."""
    return text.split()


# --------------------------------------------------------------------------- districts

#: (current area code, name, share of the 60+ population, share with rural hukou)
DISTRICTS: list[tuple[str, str, float, float]] = [
    ("370202", "市南区", 0.075, 0.00),
    ("370203", "市北区", 0.125, 0.02),
    ("370211", "黄岛区", 0.170, 0.50),
    ("370212", "崂山区", 0.040, 0.30),
    ("370213", "李沧区", 0.060, 0.05),
    ("370214", "城阳区", 0.070, 0.35),
    ("370215", "即墨区", 0.130, 0.60),
    ("370281", "胶州市", 0.100, 0.60),
    ("370283", "平度市", 0.145, 0.75),
    ("370285", "莱西市", 0.085, 0.70),
]
DISTRICT_CODES = [d[0] for d in DISTRICTS]
DISTRICT_NAMES = {d[0]: d[1] for d in DISTRICTS}

#: retired codes still seen in the feeds, by the current code that replaced them
RETIRED_CODES = {"370215": "370282", "370211": "370284"}

#: area codes an elder's ID number may start with, by current district (IDs keep the code
#: of the issuing office: old Sifang district, Jimo city and Jiaonan city are common)
ID_AREAS: dict[str, list[tuple[str, float]]] = {
    "370202": [("370202", 1.0)],
    "370203": [("370203", 0.65), ("370205", 0.35)],
    "370211": [("370211", 0.55), ("370284", 0.45)],
    "370212": [("370212", 1.0)],
    "370213": [("370213", 1.0)],
    "370214": [("370214", 1.0)],
    "370215": [("370282", 0.85), ("370215", 0.15)],
    "370281": [("370281", 1.0)],
    "370283": [("370283", 1.0)],
    "370285": [("370285", 1.0)],
}
ID_AREA_CODES = sorted({a for v in ID_AREAS.values() for a, _ in v})

TOWNS: dict[str, list[str]] = {
    "370202": _w(
        "八大峡街道 云南路街道 中山路街道 江苏路街道 八大关街道 湛山街道 香港中路街道 八大湖街道 金门路街道 珠海路街道"
    ),
    "370203": _w(
        "辽宁路街道 延安路街道 登州路街道 宁夏路街道 敦化路街道 辽源路街道 合肥路街道 浮山新区街道 四方街道 海伦路街道 "
        "兴隆路街道 水清沟街道 洛阳路街道 河西街道"
    ),
    "370211": _w(
        "黄岛街道 辛安街道 薛家岛街道 灵珠山街道 长江路街道 红石崖街道 灵山卫街道 隐珠街道 珠海街道 铁山街道 王台镇 "
        "宝山镇 大场镇 六汪镇 泊里镇 海青镇 大村镇 琅琊镇 藏南镇"
    ),
    "370212": _w("中韩街道 沙子口街道 王哥庄街道 北宅街道 金家岭街道"),
    "370213": _w(
        "振华路街道 浮山路街道 李村街道 虎山路街道 湘潭路街道 楼山街道 九水街道 兴华路街道 沧口街道 世园街道 兴城路街道"
    ),
    "370214": _w("城阳街道 流亭街道 夏庄街道 惜福镇街道 棘洪滩街道 上马街道 河套街道 红岛街道"),
    "370215": _w(
        "通济街道 环秀街道 潮海街道 北安街道 龙山街道 龙泉街道 鳌山卫街道 温泉街道 蓝村街道 灵山镇 段泊岚镇 移风店镇 "
        "田横镇 金口镇"
    ),
    "370281": _w(
        "阜安街道 中云街道 三里河街道 九龙街道 胶东街道 胶北街道 胶莱街道 李哥庄镇 铺集镇 里岔镇 洋河镇"
    ),
    "370283": _w(
        "东阁街道 凤台街道 李园街道 同和街道 白沙河街道 南村镇 蓼兰镇 崔家集镇 明村镇 田庄镇 新河镇 店子镇 大泽山镇 "
        "旧店镇 云山镇 古岘镇 仁兆镇"
    ),
    "370285": _w(
        "水集街道 望城街道 沽河街道 姜山镇 夏格庄镇 院上镇 日庄镇 南墅镇 河头店镇 店埠镇 马连庄镇"
    ),
}

ROADS: dict[str, list[str]] = {
    "370202": _w(
        "香港中路 山东路 福州南路 南京路 东海西路 湛山二路 宁夏路 江西路 云南路 观海二路 太平角一路 延安三路"
    ),
    "370203": _w(
        "辽宁路 延安二路 台东一路 威海路 登州路 敦化路 长春路 鞍山路 嘉定路 杭州路 兴隆路 哈尔滨路 洛阳路"
    ),
    "370211": _w("长江中路 珠江路 峨眉山路 井冈山路 香江路 武夷山路 黄河中路 灵山湾路 珠山路"),
    "370212": _w("松岭路 秦岭路 银川东路 深圳路 苗岭路 海口路"),
    "370213": _w("京口路 书院路 九水路 黑龙江中路 巨峰路 金水路 永年路"),
    "370214": _w("正阳路 长城路 春阳路 华城路 重庆北路 文阳路"),
    "370215": _w("鹤山路 蓝鳌路 振华街 烟青路 嵩山二路 通济新街"),
    "370281": _w("广州北路 常州路 兰州东路 福州支路 云溪河南路 北京东路"),
    "370283": _w("红旗路 常州路 胜利路 扬州路 人民路 杭州路"),
    "370285": _w("烟台路 黄海路 威海西路 文化路 石岛路 青岛路"),
}

COMMUNITY_WORDS: list[str] = _w(
    "海景 金桥 银都 福林 颐景 浮山 湛山 瑞昌 宁德 东方 春和 鲁信 万和 丽晶 华府 泰和 康乐 阳光 福瑞 安顺"
)
COMMUNITY_SUFFIX: list[str] = _w("花园 小区 苑 家园 新村 公寓 雅居")
VILLAGE_SUFFIX: list[str] = _w("家庄 家村 家疃 家屯 家埠 家沟 家岭 家河")

# --------------------------------------------------------------------------- names

#: surnames common in Shandong, weights roughly by frequency; many have a traditional form
SURNAMES: list[tuple[str, int]] = [
    ("王", 90),
    ("张", 80),
    ("李", 75),
    ("刘", 60),
    ("孙", 35),
    ("杨", 30),
    ("陈", 30),
    ("赵", 28),
    ("于", 28),
    ("徐", 25),
    ("高", 24),
    ("姜", 22),
    ("马", 20),
    ("宋", 18),
    ("董", 17),
    ("郭", 16),
    ("周", 16),
    ("吴", 15),
    ("韩", 14),
    ("曲", 12),
    ("隋", 8),
    ("栾", 7),
    ("纪", 8),
    ("臧", 5),
    ("许", 10),
    ("郑", 10),
    ("冯", 9),
    ("邓", 6),
    ("卢", 6),
    ("苏", 8),
    ("蒋", 6),
    ("贾", 7),
    ("叶", 5),
    ("龙", 3),
    ("乔", 5),
    ("贺", 5),
    ("钟", 4),
    ("黄", 12),
    ("汤", 3),
    ("孔", 6),
    ("崔", 9),
    ("薛", 6),
    ("丁", 7),
    ("谭", 3),
    ("阎", 3),
]
MALE_CHARS: list[str] = _w(
    "国 华 建 军 明 强 伟 东 庆 宝 贵 龙 长 万 胜 兴 丰 顺 学 荣 发 义 忠 礼 刚 海 林 山 文 德 "
    "志 春 生 树 永 福 成 玉 振 金 云 杰"
)
FEMALE_CHARS: list[str] = _w(
    "秀 英 兰 凤 丽 华 玉 珍 桂 淑 云 红 梅 芳 爱 艳 娟 霞 萍 琴 翠 美 荣 敏 静 燕 春 月 莲 贞 "
    "慧 叶 凤 连 花"
)
#: syllables of Uyghur/Kazakh names written with a middle dot
DOTTED_PARTS: list[str] = _w(
    "买买提 艾力 阿不都 热合曼 吐尔逊 阿依古丽 古丽 努尔 帕提古丽 依明 库尔班 肉孜 阿力木 托合提 迪丽 阿娜尔"
)
MIDDLE_DOT = "·"
DOT_VARIANTS = ["•", "．", "・"]

#: simplified -> traditional for the characters used above (checked against zhconv in tests)
TRAD: dict[str, str] = {
    w[0]: w[1]
    for w in _w(
        "张張 刘劉 孙孫 杨楊 陈陳 赵趙 马馬 吴吳 韩韓 栾欒 纪紀 许許 郑鄭 冯馮 邓鄧 卢盧 苏蘇 蒋蔣 贾賈 叶葉 "
        "龙龍 乔喬 贺賀 钟鍾 黄黃 汤湯 谭譚 阎閻 国國 华華 军軍 强強 伟偉 东東 庆慶 宝寶 贵貴 长長 万萬 胜勝 "
        "兴興 丰豐 顺順 学學 荣榮 发發 义義 礼禮 刚剛 兰蘭 凤鳳 丽麗 云雲 红紅 爱愛 艳艷 莲蓮 贞貞 连連 买買 "
        "热熱 逊遜 库庫 尔爾"
    )
}

#: homophone typos seen on the property platform (same pinyin, different character)
HOMOPHONES: dict[str, str] = {
    w[0]: w[1]
    for w in _w(
        "秀修 英莺 兰蓝 凤风 丽莉 华花 玉育 珍真 桂贵 淑书 云芸 红宏 梅玫 芳方 艳燕 娟鹃 霞侠 萍平 琴勤 国果 "
        "建健 军君 明鸣 强墙 伟玮 东冬 庆青 宝保 龙隆 林琳 山珊 文闻 德得 志智 春纯 生升 福富 成诚 金今 杰洁 "
        "王汪 张章 李理 刘柳 杨阳 陈程 徐许 于余"
    )
}

# ethnicity codes (GB 3304): 01 Han, 03 Hui, 10 Korean, 11 Manchu, 05 Uyghur, 17 Kazakh
ETHNIC_HAN = "01"
ETHNIC_OTHER = [("03", 4), ("10", 3), ("11", 3), ("02", 1)]
ETHNIC_DOTTED = ["05", "17"]

MOBILE_PREFIXES: list[str] = _w(
    "130 131 132 133 135 136 137 138 139 150 151 152 153 155 156 "
    "157 158 159 176 177 178 180 181 182 183 185 186 187 188 189"
)

# --------------------------------------------------------------------------- services

#: property service types: (code, description, low and high price in yuan)
PROPERTY_SERVICES: list[tuple[str, str, int, int]] = [
    ("housekeeping", "日常保洁（2小时）", 40, 90),
    ("medicine_delivery", "代购药品送药上门", 8, 25),
    ("shopping", "代买生活用品", 10, 30),
    ("repair", "家电水电小维修（不含材料）", 30, 100),
    ("companionship", "陪同就医或聊天陪伴（2小时）", 50, 120),
    ("safety_watch", "独居老人安全值守（每月）", 20, 60),
]
PROPERTY_WORDS_A: list[str] = _w("海 润 瑞 安 福 康 和 信 鑫 泰 盛 佳 颐")
PROPERTY_WORDS_B: list[str] = _w("源 达 居 宁 华 城 邦 联 家 诚 悦 景")

# --------------------------------------------------------------------------- ID numbers

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_char(body17: str) -> str:
    """GB 11643 check character of the first 17 digits."""
    s = 0
    for c, w in zip(body17, _ID_WEIGHTS):
        s += (ord(c) - 48) * w
    return _ID_CHECK[s % 11]


def id_is_valid(value: str) -> bool:
    """True for a well-formed 18-character ID number with the right check character."""
    if len(value) != 18 or not value[:17].isdigit() or not value[:17].isascii():
        return False
    return id_check_char(value[:17]) == value[17]


_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_W = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_W = (3, 7, 9, 10, 5, 8, 4, 2)


def _org_check(body8: str) -> str:
    s = 0
    for c, w in zip(body8, _ORG_W):
        v = ord(c) - 48 if c.isdigit() else ord(c) - 55
        s += v * w
    c = 11 - s % 11
    return "X" if c == 10 else ("0" if c == 11 else str(c))


def uscc_code(prefix2: str, area: str, body8: str) -> str:
    """A unified social credit code (GB 32100) from its parts, check characters computed.

    ``prefix2`` is the registering authority and type (``52`` civil-affairs non-enterprise,
    ``12`` public institution, ``91`` enterprise), ``area`` six digits and ``body8`` eight
    characters of the organisation code (digits or upper-case letters without I, O, S, V, Z).
    """
    org = body8 + _org_check(body8)
    s17 = prefix2 + area + org
    s = 0
    for c, w in zip(s17, _USCC_W):
        s += _USCC_CHARS.index(c) * w
    c = 31 - s % 31
    return s17 + _USCC_CHARS[0 if c == 31 else c]


USCC_BODY_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"

# --------------------------------------------------------------------------- calendar


def _d(s: str) -> date:
    return date.fromisoformat(s)


def _span(a: str, b: str) -> list[date]:
    x, y = _d(a).toordinal(), _d(b).toordinal()
    return [date.fromordinal(o) for o in range(x, y + 1)]


#: official holiday blocks (every day a rest day) and make-up working days, from the
#: State Council's annual notices
REST_DAYS: set[date] = set()
MAKEUP_WORKDAYS: set[date] = set()
for _a, _b in [
    # 2023
    ("2022-12-31", "2023-01-02"),
    ("2023-01-21", "2023-01-27"),
    ("2023-04-05", "2023-04-05"),
    ("2023-04-29", "2023-05-03"),
    ("2023-06-22", "2023-06-24"),
    ("2023-09-29", "2023-10-06"),
    # 2024
    ("2024-01-01", "2024-01-01"),
    ("2024-02-10", "2024-02-17"),
    ("2024-04-04", "2024-04-06"),
    ("2024-05-01", "2024-05-05"),
    ("2024-06-08", "2024-06-10"),
    ("2024-09-15", "2024-09-17"),
    ("2024-10-01", "2024-10-07"),
    # 2025
    ("2025-01-01", "2025-01-01"),
    ("2025-01-28", "2025-02-04"),
    ("2025-04-04", "2025-04-06"),
    ("2025-05-01", "2025-05-05"),
    ("2025-05-31", "2025-06-02"),
    ("2025-10-01", "2025-10-08"),
]:
    REST_DAYS.update(_span(_a, _b))
for _s in [
    "2023-01-28",
    "2023-01-29",
    "2023-04-23",
    "2023-05-06",
    "2023-06-25",
    "2023-10-07",
    "2023-10-08",
    "2024-02-04",
    "2024-02-18",
    "2024-04-07",
    "2024-04-28",
    "2024-05-11",
    "2024-09-14",
    "2024-09-29",
    "2024-10-12",
    "2025-01-26",
    "2025-02-08",
    "2025-04-27",
    "2025-09-28",
    "2025-10-11",
]:
    MAKEUP_WORKDAYS.add(_d(_s))
#: years whose official calendar is encoded above; other years fall back to weekends plus
#: the fixed-date holidays (New Year, Labour Day, National Day 1-3 October)
CALENDAR_YEARS = {2023, 2024, 2025}


def is_rest_day(d: date) -> bool:
    """A statutory holiday or rest day per China's official calendar."""
    if d in MAKEUP_WORKDAYS:
        return False
    if d in REST_DAYS:
        return True
    if d.year not in CALENDAR_YEARS and (
        (d.month, d.day) in {(1, 1), (5, 1), (10, 1), (10, 2), (10, 3)}
    ):
        return True
    return d.weekday() >= 5


def is_working_day(d: date) -> bool:
    return not is_rest_day(d)
