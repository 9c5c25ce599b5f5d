"""
The admin in a real browser: headless Chromium, driven by Selenium, against a live server.

It needs Debian's chromium and chromium-driver (apt-get install chromium
chromium-driver); without them the test skips, unless DJANGO_CRON_TEST_SERVICES
is "require" (CI sets it), where a missing browser is a failure.
"""

from datetime import timedelta
from pathlib import Path

import django.contrib.admin
import pytest
from django.utils import timezone

from django_cron import admin as cron_admin
from django_cron.models import JobRun, JobState
from django_cron.runner import run_due
from tests.browser import WAIT, By, Select, WebDriverWait, shown
from tests.conftest import ROOT

ARTIFACTS = ROOT / "test-artifacts"
RETURNED = "sent 3 reminders"


@pytest.fixture
def site(settings, transactional_db):
    """
    A live server of the test site, admin stylesheets included.

    The tests' settings have no staticfiles app: the admin's own static
    directory is served as STATIC_ROOT, as runserver would serve it.
    """
    from pytest_django.live_server_helper import LiveServer

    settings.STATIC_URL = "/static/"
    settings.STATIC_ROOT = str(Path(django.contrib.admin.__file__).parent / "static")
    server = LiveServer("localhost")
    yield server
    server.stop()


@pytest.fixture
def started(monkeypatch):
    """The threads "Run now" starts, joined before the test's data goes."""
    threads = []
    real = cron_admin.run_in_background

    def run_in_background(names, **options):
        threads.append(real(names, **options))
        return threads[-1]

    monkeypatch.setattr(cron_admin, "run_in_background", run_in_background)
    yield threads
    for thread in threads:
        thread.join(timeout=WAIT)


@pytest.fixture
def reminders(registry):
    """A job not due for an hour, with a morning of earlier runs, and a second job."""
    registry.register(lambda: RETURNED, name="reminders", every=3600)
    registry.register(lambda: None, name="cleanup", every=600)
    run_due()
    state = JobState.objects.get(name="reminders")
    start = timezone.now() - timedelta(hours=2)
    for n in range(8):
        failed = n == 5
        JobRun.objects.create(
            job=state,
            scheduled_for=start + timedelta(minutes=15 * n),
            started_at=start + timedelta(minutes=15 * n),
            duration=40.0 + 20 * n,
            status=JobRun.Status.FAILED if failed else JobRun.Status.OK,
            error="SMTPServerDisconnected: <mail.example.com> went away" if failed else "",
            message="" if failed else f"sent {n} mails",
        )
    return state


def log_in(driver, site, user):
    driver.get(f"{site.url}/admin/login/?next=/admin/django_cron/jobstate/")
    driver.find_element(By.ID, "id_username").send_keys(user.username)
    driver.find_element(By.ID, "id_password").send_keys("a long browser password")
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(driver, WAIT).until(shown.presence_of_element_located((By.ID, "result_list")))


def row_of(driver, state):
    return driver.find_element(
        By.XPATH, f"//input[@name='_selected_action' and @value='{state.pk}']/ancestor::tr"
    )


def act(driver, site, state, action, reason=None):
    """
    Select ``state`` in the job list, run ``action`` on it, giving ``reason``
    where the action asks for one; return the success message.
    """
    driver.get(f"{site.url}/admin/django_cron/jobstate/")
    row_of(driver, state).find_element(By.NAME, "_selected_action").click()
    Select(driver.find_element(By.NAME, "action")).select_by_value(action)
    driver.find_element(By.NAME, "index").click()
    if reason is not None:
        field = WebDriverWait(driver, WAIT).until(
            shown.visibility_of_element_located((By.NAME, "reason"))
        )
        field.send_keys(reason)
        driver.find_element(By.NAME, "apply").click()
    message = WebDriverWait(driver, WAIT).until(
        shown.visibility_of_element_located((By.CSS_SELECTOR, ".messagelist .success"))
    )
    return message.text


def enabled_in_list(driver, state) -> bool:
    icon = row_of(driver, state).find_element(By.CSS_SELECTOR, "td.field-enabled img")
    return icon.get_attribute("alt") == "True"


def timeline_bars(driver):
    """The bars of the job page's timeline, as (status class, tooltip) pairs."""
    bars = driver.find_elements(By.CSS_SELECTOR, "svg.cron-timeline rect")
    # A <title> is not rendered, so it has no .text: read its textContent.
    return [
        (
            bar.get_attribute("class"),
            bar.find_element(By.TAG_NAME, "title").get_attribute("textContent"),
        )
        for bar in bars
    ]


def test_run_a_job_now_see_it_on_the_timeline_then_pause_and_resume_it(
    # The site before the browser: the browser quits first, so that no request
    # of its is still being served when the server stops and stops sharing
    # the in-memory databases with its threads.
    site,
    browser,
    reminders,
    started,
    django_user_model,
):
    user = django_user_model.objects.create_superuser(
        "operator", "operator@example.com", "a long browser password"
    )
    log_in(browser, site, user)
    assert "reminders" in browser.find_element(By.ID, "result_list").text

    message = act(browser, site, reminders, "run_now")
    assert message.startswith("Started 1 job in the background")

    # The run is recorded by a thread of the server: reload the job page
    # until its bar is on the timeline.
    job_page = f"{site.url}/admin/django_cron/jobstate/{reminders.pk}/change/"

    def new_bar(driver):
        driver.get(job_page)
        return [bar for bar in timeline_bars(driver) if bar[1].endswith(f"\n{RETURNED}")]

    (status, tooltip), *_ = WebDriverWait(browser, WAIT).until(new_bar)
    assert status == "run run-ok" and " · ok\n" in tooltip
    assert len(timeline_bars(browser)) == 9
    run = JobRun.objects.get(job=reminders, forced=True)
    assert run.status == JobRun.Status.OK and run.message == RETURNED

    timeline = browser.find_element(By.CSS_SELECTOR, "svg.cron-timeline")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", timeline)
    assert timeline.is_displayed()
    assert timeline.size["width"] > 300 and timeline.size["height"] > 30
    assert any(bar.is_displayed() for bar in timeline.find_elements(By.TAG_NAME, "rect"))
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "admin-job-page.png"))

    reason = "the mail relay is being moved"
    assert act(browser, site, reminders, "pause", reason=reason) == "Paused 1 job."
    assert not enabled_in_list(browser, reminders)
    health = row_of(browser, reminders).find_element(By.CLASS_NAME, "field-health_status")
    assert health.text == "paused"
    reminders.refresh_from_db()
    assert not reminders.enabled and reminders.pause_reason == reason

    assert act(browser, site, reminders, "resume") == "Resumed 1 job."
    assert enabled_in_list(browser, reminders)
    reminders.refresh_from_db()
    assert reminders.enabled
    sparkline = row_of(browser, reminders).find_element(By.CSS_SELECTOR, "svg.cron-sparkline")
    assert sparkline.is_displayed() and sparkline.size["width"] > 0
    assert len(sparkline.find_elements(By.TAG_NAME, "rect")) == 9
    assert browser.save_screenshot(str(ARTIFACTS / "admin-job-list.png"))
    # The other job was never selected.
    assert JobState.objects.get(name="cleanup").enabled
    assert not JobRun.objects.filter(job__name="cleanup").exists()
