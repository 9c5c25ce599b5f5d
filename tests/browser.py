"""A headless Chromium for the tests that drive a real browser, or why there is none."""

import os
import shutil

import pytest

REQUIRE = os.environ.get("DJANGO_CRON_TEST_SERVICES") == "require"
WAIT = 30  # seconds: a deadline for each step, never a sleep

try:
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # pragma: no cover - the test extra installs it
    webdriver = By = shown = Select = WebDriverWait = None


def missing_browser() -> str | None:
    """Say what is missing to drive a browser, or None if nothing is."""
    if webdriver is None:
        return "selenium is not installed (pip install selenium)"
    for program, package in [("chromium", "chromium"), ("chromedriver", "chromium-driver")]:
        if shutil.which(program) is None:
            return f"{program} is not installed (apt-get install {package})"
    return None


@pytest.fixture
def browser():
    """A headless Chromium, as large as a desktop window so the screenshot shows the page."""
    missing = missing_browser()
    if missing and REQUIRE:
        pytest.fail(f"{missing}, and DJANGO_CRON_TEST_SERVICES=require")
    if missing:
        pytest.skip(missing)
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    # No sandbox: containers and CI runners run the browser as root.
    for argument in ["--headless=new", "--no-sandbox", "--window-size=1280,1600"]:
        options.add_argument(argument)
    # The driver named outright: Selenium Manager then downloads nothing.
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(WAIT)
    yield driver
    driver.quit()
