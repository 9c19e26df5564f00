"""The pre-screen page in a real headless Chromium (Debian's chromium and chromium-driver, driven
by Selenium): `imr serve` on a free port of 127.0.0.1 with its own log and credentials; log in,
type the seed case into the form, see three Upheld items with the seed's citations, answer the
generated questions for one item until it flips to Overturned, record an override with a reason,
and find it on the log page. Without a browser the test skips, except in CI (CI=true), where it
fails: `.ci/run` installs the packages.

IMR_SCREENSHOTS=docs/screenshots keeps the screenshots there (the README shows them)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from engine.service.auth import Credentials
from engine.service.bench import serving

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def _browser_or_skip():
    missing = [name for name, path in (("chromium", CHROMIUM), ("chromium-driver", DRIVER)) if not path]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (the test extra)")
    if missing:
        why = f"no {', '.join(missing)}: apt-get install chromium chromium-driver (.ci/run does)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs the browser test: {why}")
        pytest.skip(why)


@pytest.fixture
def server(tmp_path):
    creds = Credentials.load(tmp_path / "creds.json")
    creds.add_password("ann", "auditor", PASSWORD)
    creds.save()
    try:
        with serving(tmp_path, tmp_path / "creds.json") as running:
            yield running.base
    except TimeoutError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def browser(tmp_path):
    _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1000",
                f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


class Page:
    """What the test does on the page, as a reviewer would: type, choose, click, wait."""

    def __init__(self, driver, shots: Path):
        from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        self.d, self.shots = driver, shots
        self.wait = WebDriverWait(driver, 60, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))
        shots.mkdir(parents=True, exist_ok=True)

    def el(self, element_id: str):
        from selenium.webdriver.common.by import By

        return self.wait.until(lambda d: d.find_element(By.ID, element_id))

    def type(self, element_id: str, text: str) -> None:
        field = self.el(element_id)
        field.clear()
        field.send_keys(text)

    def choose(self, element_id: str, text: str) -> None:
        from selenium.webdriver.support.ui import Select

        Select(self.el(element_id)).select_by_visible_text(text)

    def text_of(self, element_id: str) -> str:
        """The element's text, read again if htmx swapped the page under it."""
        return self.wait.until(lambda d: self.el(element_id).text or " ").strip()

    def shot(self, name: str, at: str | None = None) -> None:
        """A 1280 x 1300 screenshot with the element `at` at its top (the top of the page without)."""
        self.d.set_window_size(1280, 1300)
        self.d.execute_script("arguments[0] ? arguments[0].scrollIntoView() : window.scrollTo(0, 0)", self.el(at) if at else None)
        self.d.save_screenshot(str(self.shots / name))
        self.d.set_window_size(1280, 1000)


def test_the_seed_by_hand_in_chromium(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    shots = Path(os.environ["IMR_SCREENSHOTS"]) if os.environ.get("IMR_SCREENSHOTS") else tmp_path / "screenshots"
    page = Page(browser, shots if shots.is_absolute() else ROOT / shots)
    browser.get(f"{server}/page")
    page.type("name", "ann")
    page.type("password", PASSWORD)
    page.el("login").click()
    page.wait.until(lambda d: d.find_elements(By.ID, "decide"))

    page.choose("jurisdiction", "California MTUS Medical Evidence Search Sequence")
    page.type("request_date", "2015-06-10")
    page.type("iw-age", "43")
    page.choose("iw-sex", "female")
    page.type("iw-date_of_injury", "2008-03-27")
    page.type("dx-0-code", "radiculopathy lumbar disc")  # the look-up by words offers M51.16
    page.wait.until(lambda d: "M51.16" in (d.find_element(By.ID, "icd-0").get_attribute("innerHTML") or ""))
    page.type("dx-0-code", "M51.16")
    page.type("dx-0-text", "Lumbar disc protrusion with radiculopathy")
    page.type("dx-1-code", "M54.2")
    _choose_value(page, "sx-0-procedure", "lumbar_discectomy_laminectomy")
    page.choose("sx-0-region", "lumbar")
    for n, region in enumerate(("lumbar", "cervical")):
        _choose_value(page, f"hx-{n}-service", "physical_therapy")
        page.choose(f"hx-{n}-region", region)
        page.choose(f"hx-{n}-home_exercise_program", "yes")
    page.type("cf-pain_score", "6")
    page.choose("cf-radiculopathy_on_exam", "yes")
    for n, (drug, dose) in enumerate((("hydrocodone", "10/325 mg"), ("duloxetine", ""), ("cyclobenzaprine", ""), ("pantoprazole", ""))):
        page.type(f"med-{n}-drug", drug)
        if dose:
            page.type(f"med-{n}-dose", dose)
    for n, region in enumerate(("lumbar", "cervical")):
        _choose_value(page, f"therapy-{n}-service", "physical_therapy")
        page.choose(f"therapy-{n}-region", region)
        page.type(f"therapy-{n}-frequency", "2")
        page.type(f"therapy-{n}-weeks", "4")
    page.type("rx-0-drugs", "Ketoprofen 10%, Gabapentin 6%, Bupivacaine 5%, Baclofen 2%, Cyclobenzaprine 2%, Clonidine 0.2%, Sodium Hyaluronate 0.2%")
    page.choose("rx-0-form", "topical")
    page.el("rx-0-compounded").click()
    page.type("rx-0-quantity", "300 g")
    page.type("rx-0-refills", "3")
    page.shot("1-request-form.png", "therapy-0-service")
    page.el("decide").click()

    page.wait.until(lambda d: d.find_elements(By.ID, "results"))
    decisions = {i: page.text_of(f"decision-{i}") for i in ("therapy-1", "therapy-2", "rx-1")}
    assert decisions == {"therapy-1": "Upheld", "therapy-2": "Upheld", "rx-1": "Upheld"}
    for item in ("therapy-1", "therapy-2"):
        assert "MTUS Chronic Pain Medical Treatment Guidelines (2009), Physical Medicine, pages 98-99" in page.text_of(f"citations-{item}")
    assert "Topical Analgesics, pages 111-113" in page.text_of("citations-rx-1")
    first_decision = page.text_of("decision-id")
    page.shot("2-decisions-and-questions.png")

    answers = (("q.treatment_history.0.visits_completed", "2"), ("q.treatment_history.0.functional_improvement", "yes"),
               ("q.clinical_findings.acute_flare_up", "yes"))
    for n, (name, value) in enumerate(answers):
        before = page.text_of("decision-id")
        field = page.el(name)
        if field.tag_name == "select":
            page.choose(name, value)
        else:
            field.send_keys(value)
            field.send_keys("\t")  # the change event: htmx posts the form and swaps the page
        page.wait.until(lambda d, before=before: d.find_element(By.ID, "decision-id").text != before)
        expected = "Overturned" if n == len(answers) - 1 else "Upheld"
        assert page.text_of("decision-therapy-1") == expected, (name, page.text_of("decision-therapy-1"))
    assert page.text_of("decision-therapy-2") == "Upheld" and page.text_of("decision-id") != first_decision
    page.shot("3-answered-therapy-1-overturned.png", "item-therapy-1")

    page.el("override-therapy-2").click()
    page.choose("final-therapy-2", "Overturned")
    page.type("reason-therapy-2", "PT notes of 2015-05-01 document functional gains")
    page.el("record-therapy-2").click()
    assert "override" in page.text_of("recorded") and "therapy-2" in page.text_of("recorded")
    page.el("log-link").click()
    page.wait.until(lambda d: d.find_elements(By.ID, "log"))
    log = page.text_of("log")
    assert "therapy-2: override → Overturned by ann" in log and "PT notes of 2015-05-01 document functional gains" in log
    page.shot("4-decision-log.png")


def _choose_value(page, element_id: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(page.el(element_id)).select_by_value(value)
