"""Benchmarks: wall time, peak memory and rows. Run with ``make bench``; prints the figures and
writes them to ``bench/out/results.json`` (by stage and size; a later run replaces its entries).

Targets on this machine (2 cores, 24 GB):
- issue 2, ``phm synth``: 1M persons x 3 years in <= 3 min and <= 6 GB;
- issue 3, ``phm ingest`` from parquet: 1M persons x 3 years in <= 4 min and <= 8 GB
  (ingest from CSV is measured too; it has no target);
- issue 4, ``phm build`` (every mart and analysis table) on 1M persons x 3 years in <= 5 min and
  <= 8 GB (stage ``build``: it ingests the parquet ICB first, untimed);
- issue 5, ``phm serve`` (stage ``serve``): p95 latency of the main API endpoints <= 100 ms with
  0 errors at 32 concurrent clients against a 1M-person warehouse (900,000 here, see below),
  measured with a load tool (``wrk``, installed with apt-get if missing) on loopback. The stage
  serves the warehouse the ``build`` stage made for that size (``bench/out/synth_N_parquet.duckdb``, kept when both
  stages run and reused by later ``serve`` runs; built the same way, untimed, if absent), with a
  fresh auth store. It adds an ICB analyst, a place lead, a PCN lead and a practice (the largest
  place, its largest PCN and that PCN's largest practice), signs in 32 clients (8 per role,
  each from its own loopback address: the server allows 30 sign-ins per address per 15 min),
  checks every URL answers 200, warms up for 5 s, then drives 32 connections for 30 s over a
  mix of ``/api/v1/me``, ``/api/v1/data/{summary,pyramid,segments,settings,programmes,
  inequalities,monthly}`` for each client's own area, ``/api/v1/data/prevalence`` at practice level
  within that area and ``/api/v1/practice/{code}``, then each endpoint alone for 8 s. It reports
  requests, errors (non-2xx answers and socket errors), throughput, p50/p95/p99 latency overall
  and per endpoint, the server's CPU time per request and its peak RSS; the audit log (every
  request is audited) is counted as a server-side cross-check.

- issue 15, stage ``peers``: on a defect-free ICB (``--defects none``), ``phm ingest`` + ``phm
  build`` against a pandas and a polars script computing the same core outputs
  (``bench/peers``: person spine, continuous inpatient spells, every contact costed and placed
  in a programme, person x year counts and costs by setting and programme, practice
  prevalence with Wilson limits), each checked equal to phm's marts
  (``bench/peers/check.py``); targets: phm at least 5x the pandas and 3x the polars script's
  speed, ``phm ingest`` and ``phm build`` each <= 40 s and <= 6 GB at 900,000 persons.

- issue 17, stages ``large``, ``region`` and ``spark`` (``bench/scale.py``, their own sizes): a
  3,000,000-person ICB and a 6-ICB region of 3,000,000 people (pseudonymised feeds), synth <= 9
  min, ingest <= 12 min, build <= 15 min, peak RSS <= 12 GB each; and Spark (local mode) ingest
  and build at 100,000, 300,000 and 1,000,000 persons with the scaling slope.

Every run first times the machine on two fixed workloads (:func:`machine`, stage ``machine``
in results.json): machines of the same size differ in speed, and a target met on one may be
missed on a slower one, so compare figures from different days with that line beside them.

The NHS test range holds only 909,091 valid NHS numbers, so the largest synthetic ICB with NHS
numbers is 900,000 persons; the sized stages use that, the scale stages pseudonymised feeds.
Environment: ``PHM_BENCH_SIZES`` (default ``100000,900000``), ``PHM_BENCH_STAGES`` (default
``synth,ingest-parquet,build,peers,ingest-csv,serve,large,region,spark``; the scale stages take
over an hour), ``PHM_BENCH_SERVE_SECONDS`` (mixed run, default
30) and ``PHM_BENCH_SERVE_ENDPOINT_SECONDS`` (each per-endpoint run, default 8).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import random
import re
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

OUT = Path(__file__).parent / "out"
RESULTS = OUT / "results.json"
SIZES = [int(s) for s in os.environ.get("PHM_BENCH_SIZES", "100000,900000").split(",")]
STAGES = os.environ.get("PHM_BENCH_STAGES",
                        "synth,ingest-parquet,build,peers,ingest-csv,serve,large,region,spark").split(",")
BENCH_KEY = "phm-benchmark-key-not-a-secret-0123456789abcdef"


def run(args: list[str], env: dict | None = None) -> tuple[float, float]:
    """Run ``python -m phm.cli_entry ARGS``; return (wall seconds, peak RSS in GB) of that child."""
    return run_command([sys.executable, "-m", "phm.cli_entry", *args], env)


def run_command(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """Run ``cmd``; return (wall seconds, peak RSS in GB) of that child."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(c) for c in cmd], env={**os.environ, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode()
        # phm's own message and the error's first lines are at the head, the stack at the tail
        shown = err if len(err) <= 6000 else f"{err[:3000]}\n[... {len(err) - 6000:,} characters ...]\n{err[-3000:]}"
        raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{shown}")
    return wall, usage.ru_maxrss / 1e6  # ru_maxrss is in kB on Linux


def record(stage: str, persons: int, figures: dict) -> None:
    """Write one stage's figures into results.json (keeping the other entries)."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    clean = {k: v for k, v in figures.items() if not isinstance(v, Path)}
    results.setdefault(stage, {})[str(persons)] = {"at_utc": at, "loadavg_1m": os.getloadavg()[0], **clean}
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


def synth(persons: int, fmt: str, defects: str = "default") -> tuple[Path, dict]:
    out = OUT / (f"synth_{persons}_{fmt}" if defects == "default" else f"synth_{persons}_{fmt}_{defects}_defects")
    shutil.rmtree(out, ignore_errors=True)
    wall, peak = run(["synth", "--persons", str(persons), "--years", "3", "--out", str(out), "--seed", "1",
                      "--format", fmt, "--defects", defects])
    files = json.loads((out / "manifest.json").read_text())["files"]
    return out, {"wall_s": wall, "peak_gb": peak, "rows": sum(v["rows"] for v in files.values()),
                 "per_file": {k: v["rows"] for k, v in files.items()}}


def timed(args: list[str], env: dict | None = None) -> tuple[float, float, list[dict]]:
    """``run`` with ``--timings-json``: also the command's own steps (seconds, rows, peak GB)."""
    path = OUT / "timings.json"
    path.unlink(missing_ok=True)
    wall, peak = run([*args, "--timings-json", str(path)], env)
    return wall, peak, json.loads(path.read_text())["steps"]


def ingest(source: Path, keep: bool = False) -> dict:
    wh = OUT / f"{source.name}.duckdb"
    wh.unlink(missing_ok=True)
    wall, peak, steps = timed(["ingest", str(source), "--warehouse", str(wh)], env={"PHM_PSEUDO_KEY": BENCH_KEY})
    size = wh.stat().st_size / 1e9
    if not keep:
        wh.unlink(missing_ok=True)
    return {"wall_s": wall, "peak_gb": peak, "warehouse_gb": size, "path": wh, "steps": steps}


def build(wh: Path, keep: bool = False) -> dict:
    before = wh.stat().st_size / 1e9
    wall, peak, steps = timed(["build", "--warehouse", str(wh)])
    after = wh.stat().st_size / 1e9
    if not keep:
        wh.unlink(missing_ok=True)
    return {"wall_s": wall, "peak_gb": peak, "marts_gb": after - before, "steps": steps}


def step_lines(steps: list[dict]) -> str:
    """The stage's own steps, one line each (parts of a step indented, those under 1% of the
    stage left out: results.json keeps them), as ``--timings`` prints."""
    out = []
    total = sum(st["seconds"] for st in steps if " · " not in st["step"]) or 1.0
    for st in steps:
        name = st["step"].split(" · ")
        if len(name) > 1 and st["seconds"] < 0.01 * total:
            continue
        label = ("    " + name[-1]) if len(name) > 1 else name[0]
        rows = "" if st["rows"] is None else f"{st['rows']:>12,} rows"
        out.append(f"    {label:<40}{st['seconds']:>8.1f} s  peak {st['peak_gb']:5.2f} GB  {rows}")
    return "\n".join(out)


def line(label: str, persons: int, r: dict, rows: int) -> str:
    return (f"{label:<22}{persons:>9,} persons x 3 y: {r['wall_s']:>7.1f} s, peak RSS {r['peak_gb']:5.2f} GB, "
            f"{rows:>12,} rows ({rows / r['wall_s']:>10,.0f} rows/s)")


# ---- peers: phm against the pandas and polars scripts for the same core outputs --------------

PEERS = Path(__file__).parent / "peers"
PEER_TARGETS = {"pandas_peer": 5.0, "polars_peer": 3.0}  # issue 15: phm at least this many times faster


def peers(persons: int) -> dict:
    """On a defect-free ICB (as issue 15 measured): phm ingest + build, then each peer script
    (``bench/peers``) on the same parquet files, each timed on its own, and the check that the
    peer's outputs equal phm's marts (``bench/peers/check.py``)."""
    sys.path.insert(0, str(PEERS))
    from check import check

    src, s = synth(persons, "parquet", defects="none")
    r = ingest(src, keep=True)
    b = build(r["path"], keep=True)
    out = {"rows": s["rows"], "phm": {"ingest": {k: v for k, v in r.items() if k != "path"}, "build": b,
                                      "wall_s": r["wall_s"] + b["wall_s"],
                                      "peak_gb": max(r["peak_gb"], b["peak_gb"])}}
    try:
        for name in PEER_TARGETS:
            dest = OUT / f"{name}_{persons}"
            shutil.rmtree(dest, ignore_errors=True)
            wall, peak = run_command([sys.executable, PEERS / f"{name}.py", src, dest],
                                     env={"PHM_PSEUDO_KEY": BENCH_KEY})
            checked = check(dest, r["path"])
            out[name] = {"wall_s": wall, "peak_gb": peak, "check": checked,
                         "equal": all(not c["differences"] for c in checked.values()),
                         "speedup": wall / out["phm"]["wall_s"]}
            shutil.rmtree(dest, ignore_errors=True)
    finally:
        r["path"].unlink(missing_ok=True)
        shutil.rmtree(src, ignore_errors=True)
    return out


def peer_lines(persons: int, r: dict) -> list[str]:
    p = r["phm"]
    lines = [f"{'phm (defect-free ICB)':<22}{persons:>9,} persons x 3 y: ingest {p['ingest']['wall_s']:.1f} s "
             f"(peak {p['ingest']['peak_gb']:.2f} GB) + build {p['build']['wall_s']:.1f} s "
             f"(peak {p['build']['peak_gb']:.2f} GB) = {p['wall_s']:.1f} s, {r['rows']:,} rows"]
    for name, target in PEER_TARGETS.items():
        x = r[name]
        verdict = "met" if x["speedup"] >= target else "MISSED"
        same = ("outputs equal phm's marts (" + ", ".join(f"{k} {v['rows']:,} rows" for k, v in x["check"].items())
                + ")") if x["equal"] else "outputs DIFFER from phm's marts: " + "; ".join(
            f"{k}: {v['differences']}" for k, v in x["check"].items() if v["differences"])
        lines.append(f"    {name.replace('_', ' '):<18}{x['wall_s']:>8.1f} s, peak {x['peak_gb']:5.2f} GB; phm is "
                     f"{x['speedup']:.2f}x its speed (target >= {target:g}x: {verdict}); {same}")
    return lines


# ---- serve: the dashboard API under load (wrk) --------------------------------------------

CLIENTS = 32
WRK_THREADS = 2  # one per core; the server gets the same two cores
SERVE_SECONDS = int(os.environ.get("PHM_BENCH_SERVE_SECONDS", "30"))
ENDPOINT_SECONDS = int(os.environ.get("PHM_BENCH_SERVE_ENDPOINT_SECONDS", "8"))
WARMUP_SECONDS = 5
LUA = Path(__file__).with_name("serve.lua")
ROLES = ("analyst", "place", "pcn", "practice")
ENDPOINTS = ("me", "summary", "pyramid", "segments", "settings", "programmes", "inequalities", "prevalence",
             "practice", "monthly")
TARGET_P95_MS = 100


def warehouse_path(persons: int) -> Path:
    return OUT / f"synth_{persons}_parquet.duckdb"  # what ingest() names the parquet ICB's warehouse


def built(wh: Path) -> bool:
    """Whether ``wh`` is a built warehouse with every table the dashboard serves."""
    if not wh.exists():
        return False
    import duckdb

    from phm.web.datasets import DATASETS

    try:
        con = duckdb.connect(str(wh), read_only=True)
    except duckdb.Error:
        return False
    try:
        tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    finally:
        con.close()
    return {"dash_areas", "build_meta", *(d.table for d in DATASETS.values())} <= tables


def ensure_wrk() -> str:
    """The wrk binary, installed from the Debian package if missing."""
    found = shutil.which("wrk")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("serve: installing wrk (apt-get install wrk)", flush=True)
    install = [*sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends", "wrk"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run([*sudo, "apt-get", "update", "-q"], env=env, capture_output=True)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"serve: could not install wrk with apt-get:\n{done.stderr[-2000:]}")
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("serve: wrk is not on PATH after apt-get install wrk")
    return found


def organisations(wh: Path) -> dict[str, str]:
    """The ICB, its largest place, that place's largest PCN and that PCN's largest practice."""
    import duckdb

    con = duckdb.connect(str(wh), read_only=True)
    try:
        def top(col: str, where: str = "", args: tuple = ()) -> str:
            return con.execute(f"SELECT {col} FROM dash_areas {where} GROUP BY {col} "
                               f"ORDER BY sum(persons) DESC, {col} LIMIT 1", list(args)).fetchone()[0]

        icb = top("icb_code")
        place = top("place_code", "WHERE icb_code = ?", (icb,))
        pcn = top("pcn_code", "WHERE place_code = ?", (place,))
        practice = top("practice_code", "WHERE pcn_code = ?", (pcn,))
    finally:
        con.close()
    return {"icb": icb, "place": place, "pcn": pcn, "practice": practice}


def endpoint_paths(role: str, org: dict[str, str]) -> dict[str, str]:
    """The URL of each benchmarked endpoint for a user of ``role``: their own area, as the pages ask."""
    level = {"analyst": "icb", "place": "place", "pcn": "pcn", "practice": "practice"}[role]
    code = org[level]
    area = urlencode({"level": level, "area": code})
    prevalence = (urlencode({"level": "practice", "area": code}) if level == "practice"
                  else urlencode({"level": "practice", "within": f"{level}:{code}"}))
    paths = {"me": "/api/v1/me"}
    for d in ("summary", "pyramid", "segments", "settings", "programmes", "inequalities", "monthly"):
        paths[d] = f"/api/v1/data/{d}?{area}"
    paths["prevalence"] = f"/api/v1/data/prevalence?{prevalence}"
    paths["practice"] = f"/api/v1/practice/{org['practice']}"
    return paths


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port: int, path: str, cookie: str | None = None, source: str = "127.0.0.1"):
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(source, 0))
    try:
        con.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        resp = con.getresponse()
        jar = SimpleCookie()
        for header in resp.headers.get_all("set-cookie") or ():
            jar.load(header)
        return resp.status, jar, resp.read()
    finally:
        con.close()


def sign_in(port: int, username: str, password: str, source: str) -> str:
    """Sign in through the login form from address ``source``; return the Cookie header value."""
    status, jar, body = http_get(port, "/login", source=source)
    csrf_cookie = jar.get("phm_login_csrf")
    field = re.search(rb'name="csrf_token" value="([^"]+)"', body)
    if status != 200 or csrf_cookie is None or field is None:
        raise SystemExit(f"serve: GET /login answered {status} without a CSRF cookie and field")
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(source, 0))
    try:
        form = urlencode({"username": username, "password": password, "csrf_token": field.group(1).decode()})
        con.request("POST", "/login", body=form, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"phm_login_csrf={csrf_cookie.value}"})
        resp = con.getresponse()
        resp.read()
        jar = SimpleCookie()
        for header in resp.headers.get_all("set-cookie") or ():
            jar.load(header)
        session = jar.get("phm_session")
    finally:
        con.close()
    if resp.status != 303 or session is None:
        raise SystemExit(f"serve: sign-in of {username} from {source} answered {resp.status}, no session cookie")
    return f"phm_session={session.value}"  # the cookie is Secure; over plain http we send it ourselves


def wrk(binary: str, port: int, requests: list[tuple[str, str]], seconds: int) -> dict:
    """One wrk run of ``seconds`` with CLIENTS connections over ``requests`` (path, cookie) in turn."""
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", dir=OUT, delete=False) as f:
        f.writelines(f"{p}\t{c}\n" for p, c in requests)
    try:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [binary, "-t", str(WRK_THREADS), "-c", str(CLIENTS), "-d", f"{seconds}s", "--timeout", "10s",
             "-s", str(LUA), f"http://127.0.0.1:{port}/"],
            env={**os.environ, "PHM_WRK_REQUESTS": f.name}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate()
        wall = time.perf_counter() - t0
    finally:
        os.unlink(f.name)
    found = re.search(r"^PHM_WRK_JSON (.*)$", out.decode(), re.M)
    if proc.returncode != 0 or not found:
        raise SystemExit(f"serve: wrk failed ({proc.returncode}):\n{out.decode()[-2000:]}\n{err.decode()[-2000:]}")
    w = json.loads(found.group(1))
    socket_errors = w["connect_errors"] + w["read_errors"] + w["write_errors"] + w["timeouts"]
    pct = {k: v / 1000 for k, v in w["percentiles_us"].items()}
    return {"requests": w["requests"], "seconds": w["duration_us"] / 1e6, "wall_s": wall,
            "errors": w["status_errors"] + socket_errors, "status_errors": w["status_errors"],
            "socket_errors": socket_errors, "rps": w["requests"] / (w["duration_us"] / 1e6),
            "mb": w["bytes"] / 1e6, "mean_ms": w["latency_mean_us"] / 1000, "max_ms": w["latency_max_us"] / 1000,
            "p50_ms": pct["50"], "p75_ms": pct["75"], "p90_ms": pct["90"], "p95_ms": pct["95"],
            "p99_ms": pct["99"], "p99.9_ms": pct["99.9"]}


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak RSS) of a process, in GB."""
    out = {}
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = row.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1e6
    return out


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def serve(wh: Path, persons: int) -> dict:
    binary = ensure_wrk()
    version = subprocess.run([binary, "-v"], capture_output=True, text=True).stdout.split("\n")[0].strip()
    org = organisations(wh)
    auth = OUT / f"serve_{persons}_auth.sqlite"
    for p in (auth, auth.with_name(auth.name + "-wal"), auth.with_name(auth.name + "-shm")):
        p.unlink(missing_ok=True)
    role_org = {"analyst": org["icb"], "place": org["place"], "pcn": org["pcn"], "practice": org["practice"]}
    passwords = {role: secrets.token_urlsafe(18) for role in ROLES}
    for role in ROLES:
        run(["user", "add", "--warehouse", str(wh), f"bench-{role}", "--role", role, "--org", role_org[role],
             "--auth", str(auth)], env={"PHM_PASSWORD": passwords[role]})

    port = free_port()
    log = OUT / f"serve_{persons}.log"
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    with log.open("wb") as log_file:
        server = subprocess.Popen([sys.executable, "-m", "phm.cli_entry", "serve", "--warehouse", str(wh),
                                   "--host", "127.0.0.1", "--port", str(port), "--auth", str(auth)],
                                  stdout=log_file, stderr=subprocess.STDOUT)
    try:
        while True:
            if server.poll() is not None:
                raise SystemExit(f"serve: phm serve exited {server.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if http_get(port, "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.perf_counter() - t0 > 900:
                raise SystemExit("serve: phm serve did not answer /healthz within 15 min")
            time.sleep(0.25)
        startup_s = time.perf_counter() - t0
        rss_ready = proc_status(server.pid)["VmRSS"]

        # 32 clients, 8 per role, each signed in from its own loopback address
        clients = []
        for i in range(CLIENTS):
            role = ROLES[i % len(ROLES)]
            cookie = sign_in(port, f"bench-{role}", passwords[role], f"127.0.1.{i + 1}")
            clients.append((role, cookie, endpoint_paths(role, org)))
        payload: dict[str, int] = {}
        for role, cookie, paths in clients:  # every URL must answer 200
            for e, path in paths.items():
                status, _, body = http_get(port, path, cookie)
                if status != 200:
                    raise SystemExit(f"serve: {role} GET {path} answered {status}: {body[:300]!r}")
                payload[e] = max(payload.get(e, 0), len(body))

        mixed = [(paths[e], cookie) for _, cookie, paths in clients for e in ENDPOINTS]
        random.Random(1).shuffle(mixed)
        wrk(binary, port, mixed, WARMUP_SECONDS)
        cpu0 = cpu_seconds(server.pid)
        overall = wrk(binary, port, mixed, SERVE_SECONDS)
        overall["server_cpu_ms_per_request"] = (cpu_seconds(server.pid) - cpu0) * 1000 / max(overall["requests"], 1)
        per_endpoint = {}
        for e in ENDPOINTS:
            cpu0 = cpu_seconds(server.pid)
            r = wrk(binary, port, [(paths[e], cookie) for _, cookie, paths in clients], ENDPOINT_SECONDS)
            r["server_cpu_ms_per_request"] = (cpu_seconds(server.pid) - cpu0) * 1000 / max(r["requests"], 1)
            r["max_response_bytes"] = payload[e]
            per_endpoint[e] = r
        mem = proc_status(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    con = sqlite3.connect(auth)  # server-side cross-check: every request is audited
    try:
        audited = dict(con.execute("SELECT status, count(*) FROM audit WHERE action = 'access' "
                                   "GROUP BY status").fetchall())
    finally:
        con.close()
    return {"tool": version, "clients": CLIENTS, "wrk_threads": WRK_THREADS, "warehouse": str(wh),
            "warehouse_gb": wh.stat().st_size / 1e9, "organisations": org, "startup_s": startup_s,
            "rss_ready_gb": rss_ready, "peak_rss_gb": mem["VmHWM"], "loadavg_before": list(load_before),
            "audit_by_status": {str(k): v for k, v in sorted(audited.items())},
            "audit_non_2xx": sum(v for k, v in audited.items() if not 200 <= k < 300),
            "mixed": overall, "per_endpoint": per_endpoint,
            "target_met": overall["p95_ms"] <= TARGET_P95_MS and overall["errors"] == 0
            and all(r["errors"] == 0 for r in per_endpoint.values())}


def serve_lines(persons: int, r: dict) -> list[str]:
    m = r["mixed"]
    verdict = "met" if r["target_met"] else "MISSED"
    out = [f"{'phm serve (wrk)':<22}{persons:>9,} persons: {r['clients']} clients x {m['seconds']:.0f} s mixed: "
           f"{m['requests']:,} requests, {m['errors']} errors ({m['status_errors']} non-2xx, "
           f"{m['socket_errors']} socket), {m['rps']:,.0f} req/s, p50 {m['p50_ms']:.1f} / p95 {m['p95_ms']:.1f} / "
           f"p99 {m['p99_ms']:.1f} ms, server peak RSS {r['peak_rss_gb']:.2f} GB "
           f"(target p95 <= {TARGET_P95_MS} ms, 0 errors: {verdict})",
           f"    {r['tool']}; start-up {r['startup_s']:.1f} s, RSS at start {r['rss_ready_gb']:.2f} GB; "
           f"server CPU {m['server_cpu_ms_per_request']:.1f} ms/request; load before {r['loadavg_before'][0]:.2f}; "
           f"audit: {sum(r['audit_by_status'].values()):,} requests, {r['audit_non_2xx']} non-2xx",
           f"    {'endpoint':<14}{'requests':>10}{'errors':>8}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
           f"{'cpu ms/req':>12}{'max kB':>9}"]
    for e, x in r["per_endpoint"].items():
        out.append(f"    {e:<14}{x['requests']:>10,}{x['errors']:>8}{x['rps']:>8,.0f}{x['p50_ms']:>9.1f}"
                   f"{x['p95_ms']:>9.1f}{x['p99_ms']:>9.1f}{x['server_cpu_ms_per_request']:>12.1f}"
                   f"{x['max_response_bytes'] / 1000:>9.1f}")
    return out


def machine() -> dict:
    """The machine's speed on two fixed workloads, so that figures from different machines of
    the same size (2 cores) can be compared: one core of pure Python (30M integer additions)
    and DuckDB on both cores (a hash aggregate of 20M rows into 1M groups). The absolute
    targets hold on the machine they were set on; a slower machine shows here first."""
    import duckdb

    t0 = time.perf_counter()
    total = 0
    for i in range(30_000_000):
        total += i
    python_s = time.perf_counter() - t0
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("CREATE TABLE t AS SELECT range AS k, range % 1000003 AS g FROM range(20000000)")
    t0 = time.perf_counter()
    con.execute("SELECT g, sum(hash(k)), count(*) FROM t GROUP BY g").fetchall()
    duckdb_s = time.perf_counter() - t0
    con.close()
    return {"python_loop_s": round(python_s, 2), "duckdb_aggregate_s": round(duckdb_s, 2),
            "threads": os.cpu_count()}


def main() -> None:
    OUT.mkdir(exist_ok=True)
    m = machine()
    print(f"machine: pure Python {m['python_loop_s']:.2f} s, DuckDB aggregate {m['duckdb_aggregate_s']:.2f} s "
          f"({m['threads']} logical CPUs; lower is faster, see machine())", flush=True)
    record("machine", 0, m)
    if "serve" in STAGES:
        ensure_wrk()  # before minutes of building
    for n in SIZES:
        wh = warehouse_path(n)
        serve_builds = "serve" in STAGES and "build" not in STAGES and not built(wh)
        if serve_builds:
            print(f"serve: no built warehouse at {wh}; building one (untimed)", flush=True)
        if serve_builds or {"synth", "ingest-parquet", "build"} & set(STAGES):
            src, s = synth(n, "parquet")
            if "synth" in STAGES:
                print(line("phm synth (parquet)", n, s, s["rows"]), flush=True)
                for k, v in s["per_file"].items():
                    print(f"    {k:<28}{v:>14,}")
                record("synth", n, s)
            if "ingest-parquet" in STAGES or "build" in STAGES or serve_builds:
                r = ingest(src, keep="build" in STAGES or serve_builds)
                if "ingest-parquet" in STAGES:
                    print(line("phm ingest parquet", n, r, s["rows"]) + f", warehouse {r['warehouse_gb']:.2f} GB", flush=True)
                    print(step_lines(r["steps"]), flush=True)
                    record("ingest-parquet", n, r)
                if "build" in STAGES or serve_builds:
                    b = build(r["path"], keep="serve" in STAGES)
                    if "build" in STAGES:
                        print(line("phm build", n, b, s["rows"]) + f", marts {b['marts_gb']:.2f} GB", flush=True)
                        print(step_lines(b["steps"]), flush=True)
                        record("build", n, b)
            shutil.rmtree(src, ignore_errors=True)
        if "ingest-csv" in STAGES:
            src, s = synth(n, "csv")
            r = ingest(src)
            print(line("phm ingest CSV", n, r, s["rows"]) + f", warehouse {r['warehouse_gb']:.2f} GB", flush=True)
            record("ingest-csv", n, r)
            shutil.rmtree(src, ignore_errors=True)
        if "peers" in STAGES:
            r = peers(n)
            print("\n".join(peer_lines(n, r)), flush=True)
            record("peers", n, r)
        if "serve" in STAGES:
            r = serve(wh, n)
            print("\n".join(serve_lines(n, r)), flush=True)
            record("serve", n, r)
    if {"large", "region", "spark"} & set(STAGES):  # their own sizes (bench/scale.py)
        sys.path.insert(0, str(Path(__file__).parent))
        import scale

        scale.main(sys.modules[__name__], STAGES)


if __name__ == "__main__":
    main()
