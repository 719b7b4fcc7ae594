"""What users expect when they search names by pinyin."""

import re

import pytest

from services.search.pinyin import (
    COMPOUND_SURNAMES,
    MAX_READINGS,
    SURNAME_READINGS,
    Readings,
    is_pinyin_like,
    normalize_query,
    readings,
)

ASCII_LOWER = re.compile(r"[a-z0-9]*")


def person(name: str) -> Readings:
    return readings(name, person=True)


def company(name: str) -> Readings:
    return readings(name, person=False)


def test_plain_name():
    r = person("张三")
    assert r.full[0] == "zhangsan"
    assert r.initials[0] == "zs"
    assert {"zhang", "san"} <= set(r.syllables)


@pytest.mark.parametrize(
    ("name", "first", "also"),
    [
        ("单雄信", "shanxiongxin", "danxiongxin"),
        ("曾国藩", "zengguofan", "cengguofan"),
        ("区志明", "ouzhiming", "quzhiming"),
        ("朴槿惠", "piaojinhui", "pujinhui"),
        ("解缙", "xiejin", "jiejin"),
        ("查良镛", "zhaliangyong", "chaliangyong"),
        ("覃海", "qinhai", "tanhai"),
        ("乐嘉", "yuejia", "lejia"),
        ("仇英", "qiuying", "chouying"),
        ("翟天临", "zhaitianlin", "ditianlin"),
    ],
)
def test_surname_reading_first_and_common_reading_kept(name, first, also):
    r = person(name)
    assert r.full[0] == first
    assert also in r.full


@pytest.mark.parametrize(("surname", "reading"), [("区", "ou"), ("朴", "piao"), ("解", "xie"), ("查", "zha")])
def test_single_character_surname(surname, reading):
    assert person(surname).full[0] == reading


def test_surname_reading_only_for_people():
    # 单 in a company name is the ordinary word: 单车 = danche.
    assert company("单车科技").full[0] == "danchekeji"


def test_compound_surname():
    r = person("欧阳修")
    assert r.full[0] == "ouyangxiu"
    assert r.initials[0] == "oyx"


@pytest.mark.parametrize(
    ("name", "first"),
    [("尉迟恭", "yuchigong"), ("万俟卨", "moqixie"), ("长孙无忌", "zhangsunwuji"), ("诸葛亮", "zhugeliang")],
)
def test_compound_surname_readings(name, first):
    assert person(name).full[0] == first


def test_surname_table_is_consistent():
    for surname, reading in SURNAME_READINGS.items():
        assert len(reading.split()) == len(surname), surname
        assert all(re.fullmatch("[a-z]+", s) for s in reading.split()), surname
    assert {"欧阳", "司马", "诸葛", "上官", "尉迟", "长孙", "万俟"} <= COMPOUND_SURNAMES


def test_given_name_heteronym_alternatives():
    r = person("张乐")
    assert r.full[0] == "zhangle"
    assert "zhangyue" in r.full


def test_ordinary_given_name_has_one_reading():
    assert person("王小明").full == ("wangxiaoming",)


def test_company_phrase_aware():
    r = company("重庆长安汽车")
    assert r.full[0] == "chongqingchanganqiche"
    assert r.initials[0] == "cqcaqc"
    assert company("长沙银行").full[0] == "changshayinhang"


def test_company_first_character_alternatives_only():
    r = company("重庆长安汽车")
    assert "zhongqingchanganqiche" in r.full
    # 长 (chang/zhang) is not the first character: no zhang variant
    assert not any("zhangan" in f for f in r.full)


def test_company_keeps_ascii_and_drops_punctuation():
    assert company("3M中国").full[0] == "3mzhongguo"
    r = company("ＴＣＬ科技集团（深圳）有限公司")
    assert r.full[0] == "tclkejijituanshenzhenyouxiangongsi"
    assert "tcl" in r.syllables


@pytest.mark.parametrize(
    "name",
    ["单雄信", "欧阳修", "重庆长安汽车", "3M中国", "吕布", "女娲科技", "欸乃", "张·三 Ⅱ", "ＡＢＣ"],
)
@pytest.mark.parametrize("is_person", [True, False])
def test_readings_are_lower_case_ascii(name, is_person):
    r = readings(name, person=is_person)
    assert r.full
    for value in (*r.full, *r.initials, *r.syllables):
        assert ASCII_LOWER.fullmatch(value), value
        assert value


def test_u_umlaut_is_v():
    assert person("吕布").full[0] == "lvbu"


def test_caps_hold_for_pathological_names():
    name = "乐长行朝重薄乐长行朝重薄乐长行朝重薄乐长"
    assert len(name) == 20
    for is_person in (True, False):
        r = readings(name, person=is_person)
        assert 1 <= len(r.full) <= MAX_READINGS
        assert 1 <= len(r.initials) <= MAX_READINGS
        assert len(set(r.full)) == len(r.full)
    assert len(person(name).full) == MAX_READINGS


def test_empty_and_non_han():
    assert person("") == Readings((), (), ())
    assert company("!!!") == Readings((), (), ())
    assert company("IBM").full == ("ibm",)


def test_cached():
    assert person("司马光") is person("司马光")


@pytest.mark.parametrize(
    ("query", "normalized"),
    [
        ("Zhang San", "zhangsan"),
        ("xi'an", "xian"),
        ("  ZS ", "zs"),
        ("xi’an", "xian"),
        ("ＺＨＡＮＧ", "zhang"),
    ],
)
def test_normalize_query(query, normalized):
    assert normalize_query(query) == normalized


def test_normalized_query_matches_readings():
    assert normalize_query("Shan Xiong Xin") in person("单雄信").full
    assert normalize_query("Dan Xiongxin") in person("单雄信").full
    assert normalize_query("chong qing") in company("重庆长安汽车").full[0]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("zhang san", True),
        ("xi'an", True),
        ("ZS", True),
        ("张三", False),
        ("3m", False),
        ("", False),
        ("  ", False),
    ],
)
def test_is_pinyin_like(query, expected):
    assert is_pinyin_like(query) is expected
