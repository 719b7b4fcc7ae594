"""Pinyin readings of Chinese names, for searching by pinyin and by initials.

The search indexer stores, for every customer / company name, the readings a user might type:

* ``full``      whole-name pinyin without tones or separators (``张三`` -> ``zhangsan``),
* ``initials``  first letters (``zs``),
* ``syllables`` the distinct syllables (``zhang``, ``san``) so a partial ``zhang`` matches.

A name can have several readings (heteronyms, surnames read differently from the ordinary
word); they are listed most likely first and capped at :data:`MAX_READINGS` so that a
pathological name of twenty heteronyms cannot blow the index up.

``normalize_query`` turns what a user typed into the same shape (``"Zhang San"`` ->
``"zhangsan"``, ``"xi'an"`` -> ``"xian"``) and ``is_pinyin_like`` tells the search whether it is
worth querying the pinyin fields at all.

pypinyin costs ~60 µs a name, so results are cached (:func:`readings` is an LRU cache).
"""

from __future__ import annotations

import heapq
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from pypinyin import Style, lazy_pinyin, pinyin
from pypinyin.constants import PINYIN_DICT

from services.search import analysis

__all__ = [
    "COMPOUND_SURNAMES",
    "GIVEN_NAME_HETERONYMS",
    "MAX_READINGS",
    "SURNAME_READINGS",
    "Readings",
    "is_pinyin_like",
    "normalize_query",
    "readings",
]

#: At most this many whole-name readings (``full``) and initials per name.
MAX_READINGS = 8

#: Size of the LRU cache of :func:`readings`: ~0.8 KB an entry (measured ~80 MB per 100k
#: person names), so ~170 MB when full; covers the hot set an indexer or highlighter sees.
CACHE_SIZE = 200_000

# Why this table exists: pypinyin picks the reading of the ordinary word, but many characters
# are read differently when they are a family name -- 单 is "dan" as a word but "shan" as a
# surname (单雄信), 曾 "ceng"/"zeng", 区 "qu"/"ou", 朴 "pu"/"piao", 解 "jie"/"xie", 查
# "cha"/"zha", 仇 "chou"/"qiu", 阚 "han"/"kan", 卜 "bo"/"bu" ... A person's surname is read
# from this table first; the ordinary reading is kept as an alternative because users do type
# what the character "looks like" (单 -> "dan"). Entries whose surname reading equals
# pypinyin's default (任 ren, 华 hua, 车 che ...) are listed on purpose: they pin the reading
# so that a future pypinyin change of default cannot silently break surname search.
# Keys are surnames (one or two characters); values are space-separated syllables.
SURNAME_READINGS: dict[str, str] = {
    # single-character surnames
    "单": "shan",
    "曾": "zeng",
    "区": "ou",
    "朴": "piao",
    "覃": "qin",
    "解": "xie",
    "查": "zha",
    "乐": "yue",
    "仇": "qiu",
    "缪": "miao",
    "翟": "zhai",
    "盖": "ge",
    "能": "nai",
    "种": "chong",
    "繁": "po",
    "召": "shao",
    "秘": "bi",
    "员": "yun",
    "宓": "fu",
    "隗": "wei",
    "任": "ren",
    "华": "hua",
    "纪": "ji",
    "燕": "yan",
    "冼": "xian",
    "洗": "xian",
    "过": "guo",
    "句": "gou",
    "车": "che",
    "重": "chong",
    "石": "shi",
    "朝": "chao",
    "尉": "wei",
    "薄": "bo",
    "卜": "bu",
    "阚": "kan",
    "都": "du",
    "粘": "nian",
    "祭": "zhai",
    "蕃": "pi",
    "郇": "xun",
    "贲": "ben",
    "折": "she",
    "乜": "nie",
    "眭": "sui",
    "沈": "shen",
    "盛": "sheng",
    "柏": "bai",
    "藏": "zang",
    "殷": "yin",
    "莘": "shen",
    "宿": "su",
    "叶": "ye",
    "长": "chang",
    # traditional forms of the above that differ
    "單": "shan",
    "區": "ou",
    "樂": "yue",
    "繆": "miao",
    "蓋": "ge",
    "種": "chong",
    "員": "yun",
    "華": "hua",
    "紀": "ji",
    "過": "guo",
    "車": "che",
    "闞": "kan",
    "長": "chang",
    "葉": "ye",
    # compound surnames
    "欧阳": "ou yang",
    "司马": "si ma",
    "诸葛": "zhu ge",
    "上官": "shang guan",
    "东方": "dong fang",
    "皇甫": "huang fu",
    "尉迟": "yu chi",
    "公孙": "gong sun",
    "慕容": "mu rong",
    "长孙": "zhang sun",
    "宇文": "yu wen",
    "司徒": "si tu",
    "司空": "si kong",
    "夏侯": "xia hou",
    "轩辕": "xuan yuan",
    "令狐": "ling hu",
    "钟离": "zhong li",
    "澹台": "tan tai",
    "万俟": "mo qi",
    "闻人": "wen ren",
    "端木": "duan mu",
    "独孤": "du gu",
    "南宫": "nan gong",
    "西门": "xi men",
    "百里": "bai li",
    "呼延": "hu yan",
    "拓跋": "tuo ba",
    "申屠": "shen tu",
    "太史": "tai shi",
    "公冶": "gong ye",
    "宗政": "zong zheng",
    "濮阳": "pu yang",
    "淳于": "chun yu",
    "仲孙": "zhong sun",
    "赫连": "he lian",
    "东郭": "dong guo",
    "公羊": "gong yang",
    "闾丘": "lv qiu",
    "亓官": "qi guan",
    "司寇": "si kou",
    "左丘": "zuo qiu",
    "第五": "di wu",
    "梁丘": "liang qiu",
    "鲜于": "xian yu",
    "巫马": "wu ma",
    "公西": "gong xi",
    "漆雕": "qi diao",
    "乐正": "yue zheng",
    "壤驷": "rang si",
    "公良": "gong liang",
    "谷梁": "gu liang",
    "宰父": "zai fu",
    "东门": "dong men",
    "羊舌": "yang she",
    "微生": "wei sheng",
    "夹谷": "jia gu",
    "段干": "duan gan",
    "归海": "gui hai",
    "歐陽": "ou yang",
    "司馬": "si ma",
    "諸葛": "zhu ge",
    "東方": "dong fang",
    "尉遲": "yu chi",
    "公孫": "gong sun",
    "長孫": "zhang sun",
    "軒轅": "xuan yuan",
    "鍾離": "zhong li",
    "澹臺": "tan tai",
    "萬俟": "mo qi",
    "聞人": "wen ren",
    "獨孤": "du gu",
    "南宮": "nan gong",
    "西門": "xi men",
    "閭丘": "lv qiu",
    # 单于 (chan yu) is deliberately absent: 单 + a given name 于... is far more common today.
}

#: Two-character surnames, recognised at the start of a person's name.
COMPOUND_SURNAMES: frozenset[str] = frozenset(k for k in SURNAME_READINGS if len(k) == 2)

# Given names: pypinyin's reading in context comes first; only these common given-name
# heteronyms add alternatives (all of them would multiply the readings for little gain).
GIVEN_NAME_HETERONYMS: dict[str, tuple[str, ...]] = {
    "乐": ("le", "yue"),
    "长": ("chang", "zhang"),
    "行": ("xing", "hang"),
    "朝": ("chao", "zhao"),
    "重": ("zhong", "chong"),
    "薄": ("bo", "bao"),
    "曾": ("zeng", "ceng"),
    "单": ("dan", "shan"),
    "会": ("hui", "kuai"),
    "传": ("chuan", "zhuan"),
    "茜": ("qian", "xi"),
    "觉": ("jue", "jiao"),
    "晟": ("sheng", "cheng"),
    "盛": ("sheng", "cheng"),
    "都": ("du", "dou"),
    "藏": ("zang", "cang"),
    "宿": ("su", "xiu"),
    "柏": ("bai", "bo"),
    "蔚": ("wei", "yu"),
    "奇": ("qi", "ji"),
    "解": ("jie", "xie"),
    "大": ("da", "dai"),
    "参": ("shen", "can"),
    "仇": ("qiu", "chou"),
    "樂": ("le", "yue"),
    "長": ("chang", "zhang"),
}

_ASCII_ALNUM = re.compile(r"[a-z0-9]+")
_QUERY_STRIP = re.compile(r"[\s'’‘`´]+")


@dataclass(frozen=True)
class Readings:
    """The pinyin readings of one name, most likely first."""

    full: tuple[str, ...]
    initials: tuple[str, ...]
    syllables: tuple[str, ...]


# A name is turned into a list of "slots": a Han character (several alternative syllables) or
# an ASCII letter/digit run (one alternative, kept verbatim). Slots are what get combined.
_Slot = tuple[tuple[str, ...], bool]  # (alternatives, is_ascii_run)


def readings(text: str, *, person: bool) -> Readings:
    """Readings of ``text``: a person's name when ``person`` else a company/other name.

    ``person=True``: the first character (or two, for a compound surname such as 欧阳) is
    read as a surname (:data:`SURNAME_READINGS` first, ordinary reading kept as an
    alternative); the given name gets pypinyin's reading plus alternatives only for the
    characters in :data:`GIVEN_NAME_HETERONYMS`.

    ``person=False``: pypinyin's phrase-aware reading of the whole text (重庆 chongqing,
    银行 yinhang) plus every reading of the first Han character. ASCII letters and digits are
    kept lower-cased (``3M中国`` -> ``3mzhongguo``); other characters are dropped.
    """
    return _readings(text, person)


@lru_cache(maxsize=CACHE_SIZE)
def _readings(text: str, person: bool) -> Readings:
    text = analysis.fold(text).strip()
    slots = _person_slots(text) if person else _company_slots(text)
    return _combine(slots)


def normalize_query(text: str) -> str:
    """Query text in the shape of the readings: folded (analysis.fold), no spaces or apostrophes."""
    return _QUERY_STRIP.sub("", analysis.fold(text))


def is_pinyin_like(text: str) -> bool:
    """True when the normalized query is non-empty and only ASCII letters (worth a pinyin search)."""
    q = normalize_query(text)
    return bool(q) and q.isascii() and q.isalpha()


# --------------------------------------------------------------------------- building slots


def _is_han(ch: str) -> bool:
    return ord(ch) in PINYIN_DICT


def _ascii(syllable: str) -> str:
    """pypinyin's NORMAL style is ASCII except for ê (欸); fold anything like it to ASCII."""
    if syllable.isascii():
        return syllable.lower()
    folded = unicodedata.normalize("NFKD", syllable).encode("ascii", "ignore").decode()
    return folded.lower()


def _runs(text: str) -> list[tuple[str, bool]]:
    """Split into (run, is_han) pieces, keeping the order."""
    runs: list[tuple[str, bool]] = []
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or _is_han(text[i]) != _is_han(text[start]):
            runs.append((text[start:i], _is_han(text[start])))
            start = i
    return runs


def _han_syllables(run: str) -> list[str]:
    """pypinyin's most likely (phrase-aware) reading, one syllable per character of ``run``."""
    syl = lazy_pinyin(run, style=Style.NORMAL)
    if len(syl) != len(run):  # never seen; keep the alignment safe anyway
        syl = [lazy_pinyin(ch, style=Style.NORMAL)[0] for ch in run]
    return [_ascii(s) for s in syl]


@lru_cache(maxsize=50_000)
def _all_readings(ch: str) -> tuple[str, ...]:
    """Every reading of one character, most frequent first."""
    return tuple(_ascii(s) for s in pinyin(ch, style=Style.NORMAL, heteronym=True)[0])


def _dedup(items: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i))


def _text_slots(text: str, alternatives) -> list[_Slot]:
    """Slots of ``text``; ``alternatives(index, char, likely)`` gives a Han character's readings."""
    slots: list[_Slot] = []
    pos = 0
    for run, han in _runs(text):
        if han:
            for ch, likely in zip(run, _han_syllables(run), strict=True):
                slots.append((alternatives(pos, ch, likely), False))
                pos += 1
        else:
            slots.extend(((m,), True) for m in _ASCII_ALNUM.findall(run.lower()))
    return slots


def _company_slots(text: str) -> list[_Slot]:
    def alternatives(pos: int, ch: str, likely: str) -> tuple[str, ...]:
        if pos == 0:
            return _dedup([likely, *_all_readings(ch)])
        return (likely,)

    return _text_slots(text, alternatives)


def _given_name_alternatives(pos: int, ch: str, likely: str) -> tuple[str, ...]:
    extra = GIVEN_NAME_HETERONYMS.get(ch)
    return _dedup([likely, *extra]) if extra else (likely,)


def _person_slots(text: str) -> list[_Slot]:
    if not text or not _is_han(text[0]):
        return _text_slots(text, _given_name_alternatives)
    n = 2 if len(text) >= 2 and text[:2] in COMPOUND_SURNAMES else 1
    surname, given = text[:n], text[n:]
    ordinary = _han_syllables(surname)
    special = SURNAME_READINGS.get(surname)
    special_syl = special.split() if special else ordinary
    slots: list[_Slot] = [(_dedup([s, o]), False) for s, o in zip(special_syl, ordinary, strict=True)]
    return slots + _text_slots(given, _given_name_alternatives)


# --------------------------------------------------------------------------- combining


def _best_choices(slots: list[_Slot], limit: int) -> list[tuple[int, ...]]:
    """The ``limit`` most likely choices of one alternative per slot.

    Likelihood = fewest/least deviations from the first alternative (sum of alternative ranks),
    ties broken in favour of deviating early in the name (the surname). Best-first search, so a
    name of twenty heteronyms costs ``limit`` steps, not 2**20.
    """
    start = (0,) * len(slots)
    heap = [(0, (), start)]
    seen = {start}
    out: list[tuple[int, ...]] = []
    while heap and len(out) < limit:
        _, _, choice = heapq.heappop(heap)
        out.append(choice)
        for i, (alts, _) in enumerate(slots):
            if choice[i] + 1 < len(alts):
                nxt = choice[:i] + (choice[i] + 1,) + choice[i + 1 :]
                if nxt not in seen:
                    seen.add(nxt)
                    heapq.heappush(heap, (sum(nxt), tuple(-c for c in nxt), nxt))
    return out


def _combine(slots: list[_Slot]) -> Readings:
    if not slots:
        return Readings((), (), ())
    full: list[str] = []
    initials: list[str] = []
    for choice in _best_choices(slots, MAX_READINGS):
        picked = [(alts[c], is_ascii) for c, (alts, is_ascii) in zip(choice, slots, strict=True)]
        full.append("".join(s for s, _ in picked))
        initials.append("".join(s if is_ascii else s[:1] for s, is_ascii in picked))
    syllables = _dedup([s for alts, _ in slots for s in alts])
    return Readings(_dedup(full), _dedup(initials), syllables)
