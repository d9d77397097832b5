"""A dashboard people can read (issue 16): financial years as 2024/25, money as £84.2m, names
not codes, panels titled for what they show, figures that state their year, downloads without
float noise, and the page as an Excel workbook."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from html import unescape

import pytest

from phm.web import charts, export, pages

pytestmark = pytest.mark.xdist_group("ingest")


@pytest.mark.parametrize("v, text", [
    (84_198_447.0, "£84.2m"), (1_234_567_890.0, "£1.23bn"), (12_345.0, "£12,345"), (57000, "£57,000"),
    (12.345, "£12.35"), (-2_500_000.0, "£-2.5m"),
])
def test_money_on_a_page(v, text):
    assert pages.fmt(v, "money", "spend") == text


def test_financial_years_and_levels_read_as_the_nhs_writes_them():
    assert pages.fmt(2024, "label", "fy") == "2024/25" and charts.fy_label(1999) == "1999/00"
    assert pages.fmt("pcn", "label", "level") == "PCN"
    fig = charts.grouped_bar([{"fy": 2023, "v": 1.0, "s": "a"}, {"fy": 2024, "v": 2.0, "s": "a"}],
                             "fy", "v", "s", "t")
    assert list(fig["data"][0]["x"]) == ["2023/24", "2024/25"]


@pytest.mark.parametrize("v, kind, out", [
    (342188.4800000003, "money", 342188.48), (0.012345678912345, "", 0.01234567891),
    (333.33333333333333, "", 333.3333333), (1234.56789, "", 1234.56789),
])
def test_downloads_carry_numbers_at_their_precision(v, kind, out):
    assert export.precise(v, kind) == out


def test_the_csv_download_has_no_float_noise(clients):
    body = clients["analyst"].get("/api/v1/data/programmes", params={"format": "csv"}).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    numbers = [c for r in rows[1:] for c in r if re.fullmatch(r"-?\d+\.\d+", c)]
    digits = [c.replace("-", "").replace(".", "").lstrip("0") for c in numbers]
    assert numbers and all(len(d) <= 10 for d in digits)  # no 342188.4800000003


def test_panels_are_titled_for_what_they_show_and_state_the_year(clients):
    html = unescape(clients["analyst"].get("/inequalities").text)
    titles = re.findall(r'<h2 id="p[0-9a-f]+-h">(.*?)</h2>', html)
    assert len(titles) == len(set(titles)) > 3  # no two panels share a title ("Inequalities" x 7)
    assert all("2024/25" in t for t in titles), titles
    overview = unescape(clients["analyst"].get("/").text)
    assert re.search(r'class="kpi-caption">[^<]+, financial year 2024/25: [\d,]+ registered persons', overview)
    assert overview.count(", 2024/25</span>") >= 5  # every headline figure's label


def test_a_chosen_year_is_shown_and_named(clients):
    html = unescape(clients["analyst"].get("/spend", params={"fy": 2022}).text)
    assert "financial year 2022/23" in html and '<option value="2022" selected>2022/23</option>' in html
    assert "Programme budgeting" not in re.findall(r'<h2 id="p[0-9a-f]+-h">(.*?)</h2>', html)


def test_codes_beside_names_show_only_the_name_on_a_page(clients):
    html = clients["analyst"].get("/population").text
    assert ">frailty_dementia<" not in html and "Long period of decline (frailty or dementia)" in html
    pyramid = clients["analyst"].get("/").text
    assert '<th scope="col">Sex</th>' not in pyramid  # the name column only


def test_download_this_page_as_a_workbook(clients):
    c = clients["practice-a1"]
    html = unescape(c.get("/spend").text)
    link = re.search(r'href="(/spend\?[^"]*download=xlsx[^"]*)"', html).group(1)
    r = c.get(link)
    assert r.status_code == 200 and r.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        book = z.read("xl/workbook.xml").decode()
        sheets = re.findall(r'<sheet name="([^"]+)"', book)
        strings = z.read("xl/sharedStrings.xml").decode()
    assert sheets[0] == "About" and len(sheets) >= 4
    assert "Disclosure control" in strings and "2024/25" in strings  # a practice gets protected figures
    assert "£#,##0.00" in zipfile.ZipFile(io.BytesIO(r.content)).read("xl/styles.xml").decode()


def test_submitters_are_named_where_phm_knows_the_name(clients, dashboard):
    rows = clients["analyst"].get("/api/v1/dq/scores").json()["rows"]
    practices = [r for r in rows if ("practice", r["submitter"]) in dashboard.hierarchy.names]
    assert practices and all(r["submitter_name"] == dashboard.hierarchy.name(("practice", r["submitter"]))
                             for r in practices)
    html = unescape(clients["analyst"].get("/quality").text)
    code = practices[0]["submitter"]
    assert f"{code}: {practices[0]['submitter_name']}</option>" in html
