"""Page load times of the web console against a real server: 1M users, 20 saved cohorts.

    python benchmarks/console_bench.py                   # 1M users, 20 cohorts, + headless Chromium
    python benchmarks/console_bench.py --quick           # CI: 5k users, 4 cohorts, HTTP only

The data is load_bench's (same users, events and cohort definitions).  One
``cohortd.server --http`` process serves it; the script logs in through
``POST /api/session`` and then, for each console page (catalog, a cohort page,
its analyses page with the weekly retention curve, the editor, overlap
heatmap, schema browser):

* ``server_ms``: time to the complete HTML answer over HTTP on loopback,
  first request after start (``cold``, caches empty) and the median / max of
  ``--repeat`` later ones (``warm``);
* with ``--browser`` (Debian's chromium + chromedriver): the browser's own
  Navigation Timing, request start to the ``load`` event (HTML, CSS, the
  script, SVG drawn), median of ``--repeat`` visits.

Asynchronous work a page starts after ``load`` (the catalog's lint badges,
the editor's live checks) is not part of the page load; the catalog's badge
completion time is reported separately (``catalog_lint_badges_ms``).

Writes ``benchmarks/results/console_bench.json``.  Never asserts timings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from load_bench import build_dataset  # same synthetic users and cohorts as the load test

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.server import ServerProcess  # noqa: E402  the one launcher, shared with the tests

RESULTS = Path(__file__).resolve().parent / "results" / "console_bench.json"
GOAL_MS = 300.0


def _stats(samples: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(samples), 2), "max_ms": round(max(samples), 2)}


def measure_http(url: str, cookie: str, pages: dict[str, str], repeat: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with httpx.Client(base_url=url, headers={"Cookie": cookie}, timeout=600) as c:
        for label, path in pages.items():
            samples = []
            for _ in range(repeat + 1):
                t0 = time.perf_counter()
                resp = c.get(path)
                samples.append((time.perf_counter() - t0) * 1000)
                assert resp.status_code == 200, (path, resp.status_code, resp.text[:300])
            out[label] = {
                "cold_ms": round(samples[0], 2),
                "warm": _stats(samples[1:]),
                "bytes": len(resp.content),
            }
    return out


def measure_browser(url: str, key: str, pages: dict[str, str], repeat: int, profile: Path) -> dict[str, Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        f"--user-data-dir={profile}",
    ):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=opts)
    out: dict[str, Any] = {}
    try:
        driver.set_page_load_timeout(600)
        driver.get(f"{url}/console/login")
        driver.execute_script(
            "return fetch('/api/session', {method: 'POST', headers: {'Content-Type': 'application/json'},"
            " body: JSON.stringify({api_key: arguments[0]})}).then(r => r.status)", key,
        )  # fmt: skip
        timing = (
            "const n = performance.getEntriesByType('navigation')[0];"
            "return [n.responseEnd - n.requestStart, n.loadEventEnd - n.requestStart];"
        )
        for label, path in pages.items():
            html, load = [], []
            for _ in range(repeat):
                driver.get(url + path)
                for _ in range(100):  # loadEventEnd is set just after the load handlers ran
                    first, total = driver.execute_script(timing)
                    if total > 0:
                        break
                    time.sleep(0.01)
                html.append(first)
                load.append(total)
            out[label] = {"html": _stats(html), "load": _stats(load)}
        # the catalog's lint badges arrive after load, one request per cohort
        t0 = time.perf_counter()
        driver.get(url + pages["catalog"])
        while "checking" in driver.find_element("id", "catalog").text:
            time.sleep(0.02)
        out["catalog_lint_badges_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    finally:
        driver.quit()
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--cohorts", type=int, default=20)
    p.add_argument("--repeat", type=int, default=5, help="warm measurements per page")
    p.add_argument("--browser", action=argparse.BooleanOptionalAction, default=None,
                   help="also measure in headless Chromium (default: if installed, not --quick)")  # fmt: skip
    p.add_argument("--quick", action="store_true", help="CI: 5k users, 4 cohorts, 2 repeats, HTTP only")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--data", type=Path, default=None, help="keep (or reuse) the data here")
    a = p.parse_args(argv)
    if a.quick:
        a.users, a.cohorts, a.repeat = 5_000, 4, 2
        a.browser = False if a.browser is None else a.browser
    if a.browser is None:
        a.browser = Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()

    tmp = Path(tempfile.mkdtemp(prefix="cohortd-console-bench-"))
    data = a.data or tmp / "data"
    try:
        t0 = time.perf_counter()
        if not (data / "projects" / "default").exists():
            names = build_dataset(data, a.users, a.cohorts)
        else:
            from cohortd.service import Workspace

            with Workspace(data) as ws:
                names = [r.name for r in ws.project("default").list_cohorts()]
        build_s = time.perf_counter() - t0
        keys = tmp / "keys.json"
        keys.write_text(json.dumps({"bench-key": ["default"]}))
        server = ServerProcess(data, "--http", "127.0.0.1:0", "--auth-keys", str(keys), startup_timeout=900)
        try:
            login = httpx.post(f"{server.url}/api/session", json={"api_key": "bench-key"}, timeout=60)
            login.raise_for_status()
            cookie = login.headers["set-cookie"].split(";")[0]
            pages = {
                "catalog": "/console/p/default/",
                "cohort": f"/console/p/default/cohorts/{quote(names[0])}",
                "analyses": f"/console/p/default/cohorts/{quote(names[0])}/analyses",
                "editor": f"/console/p/default/editor?cohort={quote(names[1 % len(names)])}",
                "overlap": "/console/p/default/overlap",
                "schema": "/console/p/default/schema",
            }
            http = measure_http(server.url, cookie, pages, a.repeat)
            browser = (
                measure_browser(server.url, "bench-key", pages, a.repeat, tmp / "chrome")
                if a.browser
                else None
            )
        finally:
            code = server.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "params": {"users": a.users, "cohorts": a.cohorts, "repeat": a.repeat, "quick": a.quick,
                   "browser": bool(a.browser), "goal_ms": GOAL_MS},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "build_s": round(build_s, 1),
        "server_start_s": round(server.start_s, 1),
        "server_exit_code": code,
        "http": http,
        "browser": browser,
        "within_goal_warm": {k: v["warm"]["median_ms"] < GOAL_MS for k, v in http.items()},
    }  # fmt: skip
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
