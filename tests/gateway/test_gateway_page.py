"""The jobs page in a real headless Chromium (Debian's, driven by Selenium and chromedriver).

The browser enters a token, submits an instance file through the page's form and follows the
job live: the tour must be drawn and the gap must fall. A screenshot and what the page saw
(gaps, stream lags) are saved under $TSP_CELERY_TEST_ARTIFACTS (default: test-artifacts/).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = os.environ.get("TSP_CELERY_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("TSP_CELERY_CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = Path(os.environ.get("TSP_CELERY_TEST_ARTIFACTS",
                                Path(__file__).parents[2] / "test-artifacts"))


@pytest.fixture
def browser(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip(f"no Chromium at {CHROMIUM} or no chromedriver at {CHROMEDRIVER} "
                    "(.ci/run installs Debian's chromium and chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1366,900",
                f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(arg)
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not try to download
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except WebDriverException as exc:
        pytest.skip(f"Chromium did not start: {exc.msg}")
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _inked_pixels(driver, canvas_id: str) -> int:
    """Pixels of the canvas that something was drawn on."""
    return driver.execute_script(
        "const c = document.getElementById(arguments[0]);"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n;",
        canvas_id)


@pytest.mark.timeout(180)
def test_page_submits_a_job_and_draws_the_tour_while_the_gap_falls(gateway, browser, data_dir):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    token = gateway.new_token("browser")
    gateway.wait_idle()
    browser.get(gateway.url + "/")
    assert browser.title == "tsp-celery jobs"
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.ID, "save-token").click()
    WebDriverWait(browser, 15).until(
        lambda d: d.find_element(By.ID, "token-state").text == "0 job(s)")

    browser.find_element(By.ID, "file").send_keys(str(data_dir / "dsj1000.tsp"))
    browser.find_element(By.ID, "time").clear()
    browser.find_element(By.ID, "time").send_keys("12")
    browser.find_element(By.ID, "submit").click()

    page = "return window.tspPage"
    WebDriverWait(browser, 120, poll_frequency=0.5).until(
        lambda d: d.execute_script(page)["status"] in ("done", "failed", "cancelled"))
    assert browser.find_element(By.ID, "status").text == "done", gateway.logs()
    WebDriverWait(browser, 15).until(lambda d: "done" in d.find_element(By.ID, "jobs").text)
    seen = browser.execute_script(page)

    assert seen["tourPoints"] == 1000  # below the decimation threshold: every node drawn
    assert _inked_pixels(browser, "tour") > 5000
    assert _inked_pixels(browser, "curve") > 200
    gaps = seen["gaps"]
    assert gaps == sorted(gaps, reverse=True) and gaps[0] > gaps[-1], gaps
    assert browser.find_element(By.ID, "gap").text == f"{gaps[-1]:.3f} %"
    log = browser.find_element(By.ID, "events").text
    assert "improved" in log and "done" in log and "submitted" in log
    job_id = browser.find_element(By.ID, "job-id").text
    with gateway.http(token) as client:
        view = client.get(f"/jobs/{job_id}").json()
    assert seen["tourLength"] == view["best_length"]
    assert browser.find_element(By.ID, "best").text == str(view["best_length"])

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "gateway-page.png"))
    (ARTIFACTS / "gateway-page.json").write_text(json.dumps(
        {"job": view, "gaps_seen": gaps, "stream_lags_s": seen["lags"]}, indent=1))
    severe = [e for e in browser.get_log("browser")
              if e["level"] == "SEVERE" and "favicon" not in e["message"]
              and "/tour?" not in e["message"]]  # 409 before the first tour is expected
    assert severe == []
