"""The web console in a real headless Chromium (Debian's, through its chromedriver) on 127.0.0.1.

An analyst's path: a wrong key is refused; log in with a key; write a cohort
in the editor with a typo and see it reported at its line and column; fix it,
see the live size, save; see the cohort page with its size and the
size-over-time chart (SVG with data points); open the overlap heatmap.  A
screenshot of each page goes to tests/artifacts/.

Needs /usr/bin/chromium and /usr/bin/chromedriver (``.ci/run`` installs
them and sets COHORTD_BROWSER_TESTS=required, so in CI a missing browser
fails instead of skipping).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import cohortd
import pytest
from support.data import seed
from support.server import HttpServer

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"

if not (Path(CHROMEDRIVER).exists() and Path(CHROMIUM).exists()):
    if os.environ.get("COHORTD_BROWSER_TESTS") == "required":
        raise RuntimeError("COHORTD_BROWSER_TESTS=required but chromium/chromedriver are not installed")
    pytest.skip("chromium and chromium-driver are not installed", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

WAIT_S = 30


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("console")
    seed(tmp / "data")
    srv = HttpServer(tmp / "data", tmp)
    yield srv
    assert srv.terminate() == 0, srv.output


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={tmp_path_factory.mktemp('chrome')}",
    ):
        opts.add_argument(arg)
    # an explicit driver path: selenium-manager never looks for (or downloads) anything
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def shot(driver, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(800, min(int(height) + 40, 4000)))
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
    driver.set_window_size(1280, 1000)


def wait_for(driver, condition):
    return WebDriverWait(driver, WAIT_S).until(condition)


def log_in(driver, url: str, key: str) -> None:
    driver.get(f"{url}/console/login")
    field = wait_for(driver, EC.presence_of_element_located((By.ID, "api-key")))
    field.clear()
    field.send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()


def test_wrong_key_is_refused(server, browser):
    log_in(browser, server.url, "not-a-key")
    error = wait_for(browser, EC.text_to_be_present_in_element((By.ID, "login-error"), "unknown API key"))
    assert error
    shot(browser, "login-refused")
    browser.get(f"{server.url}/console/p/default/")
    assert "/console/login" in browser.current_url  # no session: back to the login page
    assert not [c for c in browser.get_cookies() if c["name"] == "cohortd_session"]


def test_analyst_path(server, browser):
    url = server.url
    log_in(browser, url, "k-default")
    wait_for(browser, EC.presence_of_element_located((By.ID, "catalog")))
    cookie = next(c for c in browser.get_cookies() if c["name"] == "cohortd_session")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    assert browser.execute_script("return document.cookie") == ""  # page scripts never see the session
    wait_for(browser, lambda d: "checking" not in d.find_element(By.ID, "catalog").text)
    names = [
        td.text.split("\n")[0]
        for td in browser.find_elements(By.CSS_SELECTOR, "#catalog tbody td:first-child")
    ]
    assert names == ["Active 7d", "Feature users"]
    assert browser.find_elements(By.CSS_SELECTOR, "#catalog svg.sparkline")
    shot(browser, "catalog")

    # the other project's data is not reachable from this session
    browser.get(f"{url}/console/p/other/")
    assert "may not use project 'other'" in browser.find_element(By.ID, "error-message").text
    assert "Secret other" not in browser.page_source

    browser.get(f"{url}/console/p/default/editor")
    name = wait_for(browser, EC.presence_of_element_located((By.ID, "cohort-name")))
    name.send_keys("Engaged signups")
    area = browser.find_element(By.ID, "definition")
    area.send_keys('did("Sesion Start") in last 7d')  # an event name that does not exist
    warning = wait_for(browser, EC.text_to_be_present_in_element((By.ID, "warnings"), "did you mean"))
    assert warning and "'Session Start'" in browser.find_element(By.ID, "warnings").text
    area.clear()
    area.send_keys('did("Signup Submitted") in last 30d\nand did("Session Start") =>= 2 in last 7d')
    status = wait_for(browser, EC.text_to_be_present_in_element((By.ID, "status"), "line 2, column 26"))
    assert status
    text = browser.find_element(By.ID, "status").text
    assert text.startswith("line 2, column 26: unexpected"), text
    assert browser.find_element(By.CSS_SELECTOR, "#gutter .err").text == "2"
    assert browser.find_element(By.CSS_SELECTOR, "#backdrop .err-col").text == "="
    shot(browser, "editor-typo")

    area.clear()
    area.send_keys('did("Signup Submitted") in last 30d\nand did("Session Start") >= 2 in last 7d')
    wait_for(browser, EC.text_to_be_present_in_element((By.ID, "status"), "Valid"))
    wait_for(browser, lambda d: d.find_element(By.ID, "live-size").text not in ("", "–"))
    live = int(browser.find_element(By.ID, "live-size").text.replace(",", ""))
    assert live > 0
    assert len(browser.find_elements(By.CSS_SELECTOR, "#plan tbody tr")) >= 3
    browser.find_element(By.ID, "note").send_keys("first version")
    shot(browser, "editor-valid")
    browser.find_element(By.ID, "save").click()

    wait_for(browser, EC.presence_of_element_located((By.ID, "cohort-page")))
    assert "/cohorts/Engaged%20signups" in browser.current_url
    assert int(browser.find_element(By.ID, "cohort-size").text.replace(",", "")) == live
    points = browser.find_elements(By.CSS_SELECTOR, "#size-chart circle.point")
    assert len(points) == 31
    assert int(float(points[-1].get_attribute("data-y"))) == live
    axis_text = browser.find_element(By.ID, "size-chart").text
    assert "date (UTC)" in axis_text and "users in cohort" in axis_text
    assert "first version" in browser.find_element(By.ID, "history").text
    split = browser.find_elements(By.CSS_SELECTOR, "#breakdown-table tbody tr")
    assert sorted(r.text.split()[0] for r in split) == ["free", "paid", "trial"]
    assert sum(int(r.text.split()[1].replace(",", "")) for r in split) == live
    shot(browser, "cohort")

    # the live feed: a user who enters the cohort shows up without a reload
    with cohortd.Client(server.address, api_key="k-default", project="default") as client:
        t = int(time.time() * 1000)
        client.ingest([
            {"user_id": "live-user", "event_type": "Signup Submitted", "time": t - 60_000},
            {"user_id": "live-user", "event_type": "Session Start", "time": t - 50_000},
            {"user_id": "live-user", "event_type": "Session Start", "time": t - 40_000},
        ])  # fmt: skip
    wait_for(browser, EC.text_to_be_present_in_element((By.ID, "feed"), "live-user"))
    assert "+1" in browser.find_element(By.ID, "feed").text
    assert int(browser.find_element(By.ID, "cohort-size").text.replace(",", "")) == live + 1
    shot(browser, "cohort-live-feed")

    browser.find_element(By.ID, "analyses-link").click()
    wait_for(browser, EC.presence_of_element_located((By.ID, "retention-chart")))
    lines = browser.find_elements(By.CSS_SELECTOR, "#retention-chart path.line")
    assert len(lines) == 2  # the cohort and everyone else
    assert browser.find_elements(By.CSS_SELECTOR, "#retention-chart circle.point")
    assert "week after start" in browser.find_element(By.ID, "retention-chart").text
    outcome = browser.find_element(By.NAME, "outcome")
    outcome.send_keys('did("Session Start") in last 7d')
    steps = browser.find_element(By.NAME, "steps")
    steps.send_keys('"Signup Submitted"\n"Session Start"')
    browser.find_element(By.NAME, "anchor").send_keys('"Signup Submitted"')
    date = browser.find_element(By.NAME, "backtest_date")
    date.clear()
    # yesterday (UTC): every seeded session (now - 3d + up to 6h) is before its midnight, at any time of day
    date.send_keys(time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86_400)))
    horizon = browser.find_element(By.NAME, "horizon")
    horizon.clear()
    horizon.send_keys("1d")
    browser.find_element(By.CSS_SELECTOR, "#backtest button").click()
    result = wait_for(browser, EC.presence_of_element_located((By.ID, "backtest-result")))
    assert "Lift" in result.text and "95% CI" in result.text
    assert browser.find_elements(By.CSS_SELECTOR, "#interval circle.point")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#funnel-chart rect.bar")) == 2
    assert "Top paths after" in browser.find_element(By.ID, "journeys").text
    shot(browser, "analyses")

    browser.find_element(By.LINK_TEXT, "Overlap").click()
    wait_for(browser, EC.presence_of_element_located((By.ID, "heatmap")))
    cells = browser.find_elements(By.CSS_SELECTOR, "#heatmap rect.cell")
    assert len(cells) == 9  # three cohorts
    diagonal = [float(cells[i * 4].get_attribute("data-jaccard")) for i in range(3)]
    assert diagonal == [1.0, 1.0, 1.0]
    shot(browser, "overlap")

    browser.find_element(By.LINK_TEXT, "Schema").click()
    table = wait_for(browser, EC.presence_of_element_located((By.ID, "event-types")))
    assert (
        "Session Start" in table.text and "user.plan" in browser.find_element(By.ID, "user-properties").text
    )
    shot(browser, "schema")

    browser.find_element(By.LINK_TEXT, "Audiences").click()
    row = wait_for(
        browser,
        EC.presence_of_element_located((By.CSS_SELECTOR, '#audiences tr[data-audience="Active export"]')),
    )
    assert "Active 7d" in row.text
    shot(browser, "audiences")

    browser.get(f"{url}/console/p/default/personas?run=true&window=30d&k=2")
    cards = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#persona-cards .persona"))
    assert len(cards) == 2
    shot(browser, "personas")
    card = next(c for c in cards if c.find_elements(By.CSS_SELECTOR, ".save-persona"))
    rule = card.find_element(By.CSS_SELECTOR, "pre.rule").text
    name = card.find_element(By.CSS_SELECTOR, ".save-name")
    name.clear()
    name.send_keys("Persona saved from the console")
    card.find_element(By.CSS_SELECTOR, ".save-persona").click()
    wait_for(browser, EC.presence_of_element_located((By.ID, "cohort-page")))
    assert browser.find_element(By.CSS_SELECTOR, "pre.definition").text == rule
    assert "precision" in browser.find_element(By.ID, "history").text
