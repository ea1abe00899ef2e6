"""The workbench in a real headless Chromium (Debian's chromium + chromedriver, driven by Selenium).

Fills a case, reads the explanation in English and Dutch, breaks a rule and sees the diagnostic at its
line, compares two dates; takes a screenshot at the broken rule (a real PNG, checked). The screenshot in
docs/workbench.png is refreshed only on request (`RXPOLICY_SCREENSHOT=docs/workbench.png`), so running the tests
leaves the checkout as it was. Skipped, with the reason printed, only when the browser is not installed
(`make test` installs it).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]
    if missing:
        reason = f"the workbench browser test needs Debian's chromium and chromium-driver ({', '.join(missing)} " \
                 "missing); `make test` installs them with apt-get"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="rxpolicy-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", "--window-size=1600,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver: Any, condition: Any, what: str, seconds: float = 30) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=0.1).until(condition, message=f"waiting for {what}")


def text_of(driver: Any, element_id: str) -> str:
    return str(driver.find_element("id", element_id).text)


def test_workbench_case_explanation_broken_rule_and_comparison(browser: Any, server: Server) -> None:
    from selenium.webdriver.support.ui import Select

    driver = browser
    driver.get(server.url + "/")
    wait_for(driver, lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "true",
             "the workbench to start")
    # The form is generated from the case schema and holds the starting case (three months of oxazepam).
    assert driver.find_element("id", "f-medicine-atc").get_attribute("value") == "N05BA04"
    wait_for(driver, lambda d: "NOT COVERED" in text_of(d, "outcome"), "the first decision")
    assert "Covered if the supply covers at most 31 days" in text_of(driver, "why-not")

    # Fill in the case: one month instead of three; the explanation follows.
    supply = driver.find_element("id", "f-dispensing-supply_days")
    supply.clear()
    supply.send_keys("30")
    wait_for(driver, lambda d: text_of(d, "outcome").startswith("COVERED"), "the decision on 30 days")
    assert "max_supply" in text_of(driver, "decisions")

    # Read it in Dutch.
    Select(driver.find_element("id", "lang")).select_by_value("nl")
    wait_for(driver, lambda d: text_of(d, "outcome").startswith("VERGOED"), "the Dutch explanation")
    assert "Benzodiazepinen" in text_of(driver, "decisions")
    Select(driver.find_element("id", "lang")).select_by_value("en")
    wait_for(driver, lambda d: text_of(d, "outcome").startswith("COVERED"), "the English explanation again")

    # A field that is not valid is marked, with the service's message.
    atc = driver.find_element("id", "f-medicine-atc")
    atc.clear()
    atc.send_keys("N5BA04")
    wait_for(driver, lambda d: "RX405" in text_of(d, "case-problems"), "the case problem")
    assert "bad" in driver.find_element("css selector", '[data-field="medicine.atc"]').get_attribute("class")
    atc.clear()
    atc.send_keys("N05BA04")
    wait_for(driver, lambda d: text_of(d, "outcome").startswith("COVERED"), "the corrected case")

    # Break a rule: the diagnostic appears at its line, in the list and in the gutter.
    path = "rules/hollandzorg/excess.rxp"
    Select(driver.find_element("id", "rule-file")).select_by_value(path)
    editor = driver.find_element("id", "rule-text")
    lines = editor.get_attribute("value").split("\n")
    number = next(i for i, line in enumerate(lines, 1) if line.strip().startswith("then "))
    lines[number - 1] = lines[number - 1].replace("then", "thn", 1)
    driver.execute_script("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'));",
                          editor, "\n".join(lines))
    wait_for(driver, lambda d: d.find_elements("css selector", "#diagnostics li[data-code='RX103']")
             and d.find_element("id", "notice").is_displayed(), "the diagnostic of the broken rule")
    # Read in one script: the list and the gutter are drawn again whenever a check answers.
    item = driver.execute_script(
        "const li = document.querySelector(\"#diagnostics li[data-code='RX103']\");"
        "return {line: li.dataset.line, file: li.dataset.file, text: li.textContent,"
        "        gutter: document.querySelector(`#gutter div[data-line='${li.dataset.line}']`).className};")
    assert (item["line"], item["file"]) == (str(number), path)
    assert "did you mean `then`?" in item["text"]
    assert item["gutter"] == "error"
    notice = driver.find_element("id", "notice")
    assert notice.is_displayed() and "do not check" in notice.text
    assert text_of(driver, "outcome").startswith("COVERED"), "the last good decision stays in view"
    renders = driver.execute_async_script(
        "const done = arguments[0]; let n = 0; const o = new MutationObserver(() => n++);"
        "o.observe(document.getElementById('diagnostics'), {childList: true});"
        "setTimeout(() => { o.disconnect(); done(n); }, 1500);")
    assert renders == 0, "the diagnostics stay put once the check has answered"
    driver.find_element("css selector", "#diagnostics li[data-code='RX103']").click()  # jumps to the line
    driver.execute_script("document.getElementById('case-column').scrollTop = 0;")
    shot = Path(os.environ.get("RXPOLICY_SCREENSHOT") or Path(tempfile.mkdtemp()) / "workbench.png")
    assert driver.save_screenshot(str(shot)) and shot.read_bytes().startswith(b"\x89PNG")

    # Mend it: the edited copy checks and decides again; the badge says these are edited rules.
    lines[number - 1] = lines[number - 1].replace("thn", "then", 1) + "  # edited in the workbench"
    driver.execute_script("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'));",
                          editor, "\n".join(lines))
    wait_for(driver, lambda d: not d.find_element("id", "notice").is_displayed()
             and not d.find_elements("css selector", "#diagnostics li.error"), "the mended rules to check")
    assert text_of(driver, "outcome").startswith("COVERED")
    assert driver.find_element("id", "rules-origin").is_displayed()

    # The same case as YAML: the form's values, and an edit there decides again.
    driver.find_element("id", "mode-yaml").click()
    area = driver.find_element("id", "case-yaml")
    text = area.get_attribute("value")
    assert "dispensed_on: 2025-03-14" in text and "supply_days: 30" in text
    driver.execute_script("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'));",
                          area, text.replace("supply_days: 30", "supply_days: 90"))
    wait_for(driver, lambda d: "NOT COVERED" in text_of(d, "outcome"), "the decision on the YAML case")
    driver.find_element("id", "mode-form").click()

    # Compare two dates on this case and in general.
    driver.find_element("id", "tab-compare").click()
    driver.execute_script("document.getElementById('old-date').value = '2023-06-01';"
                          "document.getElementById('new-date').value = '2024-06-01';")
    driver.find_element("id", "compare").click()
    wait_for(driver, lambda d: "authorisation_required" in text_of(d, "rules-diff"), "the rules' differences", 90)
    assert "hollandzorg@2023-06-01 → hollandzorg@2024-06-01" in text_of(driver, "rules-diff")
    assert text_of(driver, "case-diff") not in ("", "…")
