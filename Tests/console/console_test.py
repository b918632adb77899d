#!/usr/bin/python3
"""The console in a real browser (Debian's chromium + chromedriver, python3-selenium), driven by
APITests.theConsoleShowsTheFleetSymbolsAndAnAlertArrivingLive.

Signs in with the token, waits for the symbols the Swift test stored, opens one symbol, then writes
--ready-file and waits for the alert --alert-id, which the Swift test stores only after that, to
appear without a reload. Fails on any browser console error. Saves a screenshot to --screenshot.
Every wait is bounded; the browser is always quit."""
import argparse
import json
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

parser = argparse.ArgumentParser()
parser.add_argument("--url", required=True)
parser.add_argument("--token", required=True)
parser.add_argument("--symbols", required=True, help="comma-separated symbols that must be listed")
parser.add_argument("--alert-id", required=True)
parser.add_argument("--ready-file", required=True)
parser.add_argument("--screenshot", required=True)
args = parser.parse_args()

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,1100", "--disable-gpu"):
    options.add_argument(flag)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
failures = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        failures.append(what)


try:
    wait = WebDriverWait(driver, 30)
    driver.get(args.url)
    check(driver.title == "Guardian Fleet console", "the page is the console (title %r)" % driver.title)
    icon = driver.find_element(By.CSS_SELECTOR, "link[rel=icon]").get_attribute("href")
    check(icon.endswith("/favicon.svg"), "a favicon is linked")
    field = driver.find_element(By.ID, "token")
    check(field.get_attribute("type") == "password", "the token is asked for in a password field")

    # A wrong token is refused with a message, the app stays hidden.
    field.send_keys("gft_000000000000_" + "0" * 64)
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait.until(lambda d: d.find_element(By.ID, "login-error").text != "")
    check("not valid" in driver.find_element(By.ID, "login-error").text, "a wrong token is refused")
    driver.get_log("browser")  # drains the expected "401" resource error of the wrong token
    field.clear()
    field.send_keys(args.token)
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait.until(EC.visibility_of_element_located((By.ID, "app")))
    check(driver.execute_script("return sessionStorage.getItem('guardian-token')") == args.token,
          "the token is kept in sessionStorage (this tab only)")
    check(driver.execute_script("return localStorage.length") == 0, "nothing in localStorage")

    wanted = args.symbols.split(",")
    wait.until(lambda d: all(d.find_elements(By.CSS_SELECTOR, "#symbols tr[data-symbol='%s']" % s) for s in wanted))
    check(True, "the symbols are listed: " + ", ".join(wanted))
    wait.until(lambda d: d.find_element(By.ID, "fleet-status").text not in ("", "…"))
    check(driver.find_element(By.ID, "fleet-cache").text == "reachable", "the fleet card shows Redis reachable")

    driver.find_element(By.CSS_SELECTOR, "#symbols tr[data-symbol='%s']" % wanted[0]).click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#events tbody tr")) > 0)
    check(driver.find_element(By.ID, "symbol-source").text in ("from redis", "from timescaledb"), "the symbol's state names its source")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#rollup-chart rect")) > 0)
    check(True, "the symbol's rollups are drawn")

    wait.until(lambda d: d.find_element(By.ID, "stream-state").text == "live")
    check(True, "the alert stream is live")
    # The reset form is pre-filled from the fleet; a preview with this read token moves nothing.
    driver.find_element(By.ID, "reset-preview").click()
    wait.until(lambda d: d.find_element(By.ID, "reset-message").text != "")
    print("reset preview: " + driver.find_element(By.ID, "reset-message").text, flush=True)

    with open(args.ready_file, "w") as f:
        f.write("ready\n")
    selector = "#alerts li[data-id='%s']" % args.alert_id
    try:
        WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, selector))
        check(True, "the alert stored during the test appears without a reload")
    except Exception:
        check(False, "the alert stored during the test appears without a reload")
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(args.screenshot)
    print("screenshot: " + args.screenshot, flush=True)

    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    check(not errors, "no console errors" + ("" if not errors else ": " + json.dumps(errors)))
finally:
    driver.quit()

sys.exit(1 if failures else 0)
