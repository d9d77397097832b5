"""In-process API and session-security tests (governance.md, Access: web)."""

from __future__ import annotations

import csv
import io
import re
import sqlite3

import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import PASSWORD, audit_rows, login

from phm.web.store import Store

pytestmark = pytest.mark.xdist_group("ingest")


def test_sign_in_sets_a_secure_session_cookie_and_is_audited(web_app, accounts):
    with TestClient(web_app, base_url="https://testserver") as c:
        r = login(c, "analyst")
        assert r.status_code == 303 and r.headers["location"] == "/"
        cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("phm_session="))
        token = cookie.split(";")[0].split("=", 1)[1]
        assert len(token) >= 43  # 32 random bytes, base64url: 256 bits
        flags = cookie.lower()
        assert "secure" in flags and "httponly" in flags and "samesite=strict" in flags
        assert c.get("/api/v1/me").json()["role"] == "analyst"
    last = next(r for r in audit_rows(web_app, "analyst") if r["action"] == "login")
    assert (last["action"], last["outcome"], last["role"], last["organisation"]) == (
        "login", "success", "analyst", accounts["analyst"].organisation)
    assert last["at_utc"].endswith("Z")


def test_session_token_is_renewed_at_every_sign_in(web_app):
    with TestClient(web_app, base_url="https://testserver") as c:
        first = login(c, "analyst").cookies["phm_session"]
        second = login(c, "analyst").cookies["phm_session"]
        assert first != second
    with TestClient(web_app, base_url="https://testserver") as other:
        assert other.get("/api/v1/me", headers={"cookie": f"phm_session={second}"}).status_code == 200
        assert other.get("/api/v1/me", headers={"cookie": f"phm_session={first}"}).status_code == 401


def test_wrong_password_is_refused_generically_and_audited(web_app):
    with TestClient(web_app, base_url="https://testserver") as c:
        r = login(c, "pcn-b", "not-the-password")
        assert r.status_code == 401 and "Incorrect user name or password" in r.text
        r2 = login(c, "nobody-such", "whatever-password")
        assert r2.status_code == 401 and "Incorrect user name or password" in r2.text
    rows = audit_rows(web_app)
    assert any(r["username"] == "pcn-b" and r["outcome"] == "failed" and r["action"] == "login" for r in rows)
    assert any(r["username"] == "nobody-such" and r["outcome"] == "failed" for r in rows)


def test_login_needs_its_csrf_token(web_app):
    with TestClient(web_app, base_url="https://testserver") as c:
        c.get("/login")
        r = c.post("/login", data={"username": "analyst", "password": PASSWORD, "csrf_token": "forged"},
                   follow_redirects=False)
        assert r.status_code == 403 and "phm_session" not in r.cookies


def test_login_rate_limit_per_account(web_app):
    store = web_app.state.web.store
    store.add_user("ratelimited", PASSWORD, "practice", "X00000", replace=True)
    with TestClient(web_app, base_url="https://testserver") as c:
        codes = [login(c, "ratelimited", "wrong-password-x").status_code for _ in range(6)]
        assert codes == [401] * 5 + [429]
        assert login(c, "ratelimited").status_code == 429  # even the right password, for 15 minutes
    assert audit_rows(web_app, "ratelimited")[0]["outcome"] == "rate limited"


def test_no_session_gets_401_on_the_api_and_the_login_page_for_pages(anonymous):
    assert anonymous.get("/api/v1/data/summary").status_code == 401
    r = anonymous.get("/spend", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_security_headers_on_every_response(clients, anonymous):
    for r in (clients["analyst"].get("/"), clients["analyst"].get("/api/v1/me"), anonymous.get("/login"),
              anonymous.get("/api/v1/me"), anonymous.get("/no-such-page")):
        h = r.headers
        assert "object-src 'none'" in h["content-security-policy"]
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert "script-src 'self';" in h["content-security-policy"]
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "no-referrer"
        assert h["x-frame-options"] == "DENY"


def test_logout_needs_the_session_csrf_token(web_app):
    with TestClient(web_app, base_url="https://testserver") as c:
        login(c, "pcn-a")
        assert c.post("/logout", data={"csrf_token": "forged"}, follow_redirects=False).status_code == 403
        assert c.get("/api/v1/me").status_code == 200
        page = c.get("/")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        assert c.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
        assert c.get("/api/v1/me").status_code == 401


def test_admin_adds_a_user_only_with_the_csrf_token(clients, web_app):
    admin = clients["admin"]
    bad = admin.post("/admin/users", data={"username": "newbie", "password": "a-long-password-1", "role": "pcn",
                                           "organisation": "U00000", "csrf_token": "forged"}, follow_redirects=False)
    assert bad.status_code == 403
    token = re.search(r'name="csrf_token" value="([^"]+)"', admin.get("/admin/users").text).group(1)
    ok = admin.post("/admin/users", data={"username": "newbie", "password": "a-long-password-1", "role": "pcn",
                                          "organisation": "U00000", "csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303
    assert "newbie" in [u["username"] for u in admin.get("/api/v1/users").json()]
    assert clients["analyst"].post("/admin/users", data={"csrf_token": token}).status_code in (403, 422)


def test_idle_and_absolute_timeouts(tmp_path):
    store = Store(tmp_path / "auth.sqlite")
    user = store.add_user("someone", PASSWORD, "practice", "A81001")
    token, _ = store.new_session(user, now=1000.0)
    assert store.session(token, 1000.0 + 29 * 60, idle=1800, absolute=43200) is not None
    assert store.session(token, 1000.0 + 29 * 60 + 1801, idle=1800, absolute=43200) is None  # idle
    token, _ = store.new_session(user, now=1000.0)
    t = 1000.0
    while t < 1000.0 + 12 * 3600 - 600:  # active all day: never idle
        t += 600
        assert store.session(token, t, idle=1800, absolute=43200) is not None
    assert store.session(token, 1000.0 + 12 * 3600 + 1, idle=1800, absolute=43200) is None  # absolute


def test_settings_refuse_timeouts_beyond_governance(tmp_path):
    from pydantic import ValidationError

    from phm.web.app import Settings

    with pytest.raises(ValidationError):
        Settings(warehouse=tmp_path / "w.duckdb", auth=tmp_path / "a.sqlite", idle_timeout_s=31 * 60)
    with pytest.raises(ValidationError):
        Settings(warehouse=tmp_path / "w.duckdb", auth=tmp_path / "a.sqlite", absolute_timeout_s=13 * 3600)


def test_audit_log_is_append_only(web_app):
    con = sqlite3.connect(web_app.state.web.store.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE audit SET outcome = 'allowed'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM audit")
    con.close()


def test_passwords_are_stored_as_argon2_hashes(web_app):
    con = sqlite3.connect(web_app.state.web.store.path)
    hashes = [h for (h,) in con.execute("SELECT password_hash FROM users")]
    con.close()
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert not any(PASSWORD in h for h in hashes)


def test_every_data_access_is_audited(clients, web_app, accounts):
    c = clients["pcn-a"]
    before = web_app.state.web.store.audit_count()
    c.get("/api/v1/data/segments?level=pcn")
    c.get("/spend")
    after = audit_rows(web_app, "pcn-a")[:2]
    assert web_app.state.web.store.audit_count() == before + 2
    assert [r["target"] for r in after] == ["GET /spend", "GET /api/v1/data/segments?level=pcn"]
    assert all(r["organisation"] == accounts["pcn-a"].organisation and r["role"] == "pcn" for r in after)


def test_an_unexpected_error_shows_no_stack_trace(clients, web_app, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("secret internals /home/x/phm.py line 3")

    monkeypatch.setattr(web_app.state.web.data, "rows", boom)
    monkeypatch.setattr(web_app.state.web.data, "_json", type(web_app.state.web.data._json)())  # nothing cached
    for path in ("/api/v1/data/summary", "/population"):
        r = clients["analyst"].get(path)
        assert r.status_code == 500
        assert "Traceback" not in r.text and "secret internals" not in r.text
        assert "reference" in r.text
        assert "object-src 'none'" in r.headers["content-security-policy"]
    assert audit_rows(web_app, "analyst")[0]["outcome"] == "error"


def test_error_pages_are_generic(anonymous, clients):
    r = anonymous.get("/api/v1/data/no-such-dataset")
    assert r.status_code in (401, 404, 422) and "Traceback" not in r.text
    r = clients["analyst"].get("/api/v1/data/summary?fy=notayear")
    assert r.status_code == 422 and set(r.json()) == {"detail"}


def test_table_json_shape_and_provenance(clients):
    j = clients["analyst"].get("/api/v1/data/segments").json()
    assert j["dataset"] == "segments" and j["disclosure_controlled"] is False
    assert {c["name"] for c in j["columns"]} >= {"segment", "persons", "spend", "spend_per_head"}
    assert j["provenance"]["phm_version"] and "ledger_fingerprint" in " ".join(j["provenance"])
    row = j["rows"][0]
    assert row["spend_per_head"] == pytest.approx(row["spend"] / row["persons"])


def test_csv_and_xlsx_downloads_hold_the_same_rows(clients):
    c = clients["practice-a1"]
    j = c.get("/api/v1/data/segments").json()
    r = c.get("/api/v1/data/segments?format=csv")
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == [col["label"] for col in j["columns"]]
    assert len(rows) - 1 == len(j["rows"])
    persons = rows[0].index("People")
    assert [x[persons] for x in rows[1:]] == [str(r["persons"]) for r in j["rows"]]
    x = c.get("/api/v1/data/segments?format=xlsx")
    assert x.content[:2] == b"PK" and "spreadsheetml" in x.headers["content-type"]


def test_downloads_are_rate_limited(web_app, clients, monkeypatch):
    from phm.web.security import RateLimit

    monkeypatch.setattr(web_app.state.web, "exports", RateLimit(2, 60))
    c = clients["pcn-b"]
    codes = [c.get("/api/v1/data/summary?format=csv").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert c.get("/api/v1/data/summary").status_code == 200  # JSON views are not downloads


def test_marts_are_for_analysts_only(clients):
    rows = clients["analyst"].get("/api/v1/marts/person?limit=5").json()
    assert len(rows) == 5 and "person_id" in rows[0]
    assert not any("nhs" in k.lower() for k in rows[0])
    for who in ("place", "pcn-a", "practice-a1", "provider", "admin"):
        assert clients[who].get("/api/v1/marts/person").status_code == 403
        assert clients[who].get("/api/v1/marts").status_code == 403


def test_feedback_download_is_the_providers_own(clients, accounts):
    mine = accounts["provider"].organisation
    other = accounts["provider-2"].organisation
    r = clients["provider"].get(f"/api/v1/dq-feedback/{mine}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    body = r.content.decode("utf-8-sig").splitlines()
    assert body[0].startswith("submitter,")
    assert all(line.startswith(mine + ",") for line in body[1:])
    assert clients["provider"].get(f"/api/v1/dq-feedback/{other}").status_code == 403
    assert clients["provider-2"].get(f"/api/v1/dq-feedback/{mine}").status_code == 403


def test_openapi_schema_documents_the_api(anonymous):
    spec = anonymous.get("/api/openapi.json").json()
    paths = spec["paths"]
    for p in ("/api/v1/me", "/api/v1/data/{dataset}", "/api/v1/practice/{code}", "/api/v1/dq/{what}",
              "/api/v1/dq-feedback/{submitter}", "/api/v1/marts/{name}", "/api/v1/audit", "/api/v1/users"):
        assert p in paths, p
    assert not any(p.startswith(("/login", "/spend", "/admin")) for p in paths)  # pages are not API
    enum = spec["components"]["schemas"]["DatasetName"]["enum"]
    from phm.web.datasets import DATASETS

    assert sorted(enum) == sorted(DATASETS)


def test_pages_and_data_are_not_cached_but_assets_are(clients, anonymous):
    assert clients["analyst"].get("/api/v1/data/summary").headers["cache-control"] == "no-store"
    assert clients["analyst"].get("/").headers["cache-control"] == "no-store"
    js = anonymous.get("/assets/plotly.min.js")
    assert js.status_code == 200 and js.headers["cache-control"] == "max-age=86400"
    assert "object-src 'none'" in js.headers["content-security-policy"]


def test_the_analysts_ratio_to_expected_chart_at_icb_level_is_against_england(clients):
    """Issue 14: at ICB level the ratio-to-expected chart compares the ICB with England (QOF
    2022-23), so its points are not all 1 (against its own rates the ICB is 1 by construction);
    a practice can switch to the ICB as the reference."""
    import json
    import re

    page = clients["analyst"].get("/needs")
    assert page.status_code == 200
    figures = [json.loads(f) for f in re.findall(r'class="figure" data-target="[^"]+">(.*?)</script>', page.text, re.S)]
    ratio = [f for f in figures if "against expected" in f["layout"]["title"]["text"]]
    assert len(ratio) == 1
    assert "England" in ratio[0]["layout"]["title"]["text"]
    ys = [y for tr in ratio[0]["data"] for y in tr["y"] if y is not None]
    assert ys and any(abs(y - 1.0) > 1e-6 for y in ys)
    assert 'name="reference"' not in page.text  # ICB level: England only


def test_pages_and_downloads_name_conditions_settings_segments_and_areas(clients):
    """Issue 14 part 5: the names people use beside the codes, in the JSON, the CSV and on the
    charts; the codes stay in the data."""
    import json
    import re

    from phm.web.names import SETTING_NAMES, condition_names, segment_names

    c = clients["analyst"]
    prev = c.get("/api/v1/data/prevalence").json()
    assert all(r["condition_name"] == condition_names()[r["condition"]] for r in prev["rows"])
    assert all(r["area_name"] and r["area_name"] != "" for r in prev["rows"])
    rows = list(csv.reader(io.StringIO(c.get("/api/v1/data/settings?format=csv").content.decode("utf-8-sig"))))
    head = rows[0]
    assert head.index("Setting name") == head.index("Setting") + 1 and "Area name" in head
    assert {x[head.index("Setting name")] for x in rows[1:]} <= set(SETTING_NAMES.values())
    top = c.get("/api/v1/data/top_cohort").json()["rows"]
    seg = [r for r in top if r["dimension"] == "segment"]
    assert seg and all(r["group_name"] == segment_names()[r["group"]] for r in seg)
    page = c.get("/needs").text
    figures = [json.loads(f) for f in re.findall(r'class="figure" data-target="[^"]+">(.*?)</script>', page, re.S)]
    cats = {x for f in figures if "prevalence" in f["layout"]["title"]["text"].lower() for tr in f["data"]
            for x in (tr.get("x") or []) if isinstance(x, str)}
    assert cats and cats <= set(condition_names().values())
    assert not cats & set(condition_names())


def test_data_quality_results_say_what_each_rule_checks(clients):
    from phm.quality.catalogue import rule

    j = clients["analyst"].get("/api/v1/dq/results").json()
    assert j["rows"], "the synthetic ICB plants data-quality defects"
    assert all(r["rule_name"] == rule(r["rule_id"]).description for r in j["rows"])
