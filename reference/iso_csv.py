#!/usr/bin/env python3
"""Writes reference/iso3166-1.csv and reference/iso4217.csv from well-kept Python packages.

Run it when a new edition of the standards is wanted, then regenerate the SQL and commit everything:

    pip install 'pycountry==26.2.16' 'iso4217==1.16.20260101'
    python3 reference/iso_csv.py
    UPDATE_REFERENCE=1 cargo test -p schema_tests --test reference_files

pycountry carries the ISO 3166-1 list from Debian's iso-codes; iso4217 carries SIX's official ISO 4217 list one
(table.xml), including minor units, which pycountry lacks. The CSVs are committed, so builds never need these
packages. Output is sorted and deterministic (LF line ends, UTF-8, RFC 4180 quoting where needed).
"""

import csv
import pathlib
import sys

import iso4217
import pycountry

HERE = pathlib.Path(__file__).resolve().parent


def write(path: pathlib.Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {path.relative_to(HERE.parent)}", file=sys.stderr)


def countries() -> list[list[str]]:
    rows = []
    for c in pycountry.countries:
        rows.append([c.alpha_2, c.alpha_3, c.numeric, c.name, getattr(c, "official_name", "") or ""])
    return sorted(rows)


def currencies() -> list[list[str]]:
    names = {c.alpha_3: c.name for c in pycountry.currencies}
    rows = []
    for cur in iso4217.Currency:
        minor = "" if cur.exponent is None else str(cur.exponent)
        rows.append([cur.code, f"{cur.number:03d}", minor, cur.currency_name or names.get(cur.code, "")])
    return sorted(rows)


def main() -> None:
    write(HERE / "iso3166-1.csv", ["alpha2", "alpha3", "numeric", "name", "official_name"], countries())
    write(HERE / "iso4217.csv", ["code", "numeric", "minor_units", "name"], currencies())


if __name__ == "__main__":
    main()
