"""Batch submit with live progress, the READY page and Confirm, in a real browser (Playwright + chromium).

Runs its own server process: the confirmation moves the edit context.
Screenshots of the READY and confirmed pages go to docs/screenshots/.
"""

from __future__ import annotations

import re
import shutil

import pytest
from crds_server import testing
from crds_server.browser import SCREENSHOTS, requires_chromium
from jsonapi import live_server

BIAS = "hst_acs_biasfile_0001.fits"

pytestmark = requires_chromium

SETUP = """
from django.contrib.auth.models import Group, User
User.objects.create_user("web_submitter", "web@example.org", "web-pw").groups.add(
    Group.objects.get_or_create(name="file_submission")[0])
"""


@pytest.fixture(scope="module")
def server():
    with live_server.private(SETUP) as started:
        yield started


def log_in(page, url: str) -> None:
    """The submitter's web login, for ACS."""
    page.goto(url + "/login/")
    page.fill("#id_username", "web_submitter")
    page.fill("#id_password", "web-pw")
    page.select_option("#id_instrument", "acs")
    page.click("form button[type=submit]")
    page.wait_for_url(url + "/")


def test_batch_submit_ready_confirm(server, page):
    from playwright.sync_api import expect

    url = server.url
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    log_in(page, url)

    ingest = server.root / "server_files" / "ingest" / "web_submitter"
    ingest.mkdir(parents=True, exist_ok=True)
    shutil.copy(testing.test_data() / "hst" / BIAS, ingest / BIAS)  # a direct copy into the ingest area
    page.goto(url + "/batch_submit_references/")
    expect(page.locator("#ingest-files")).to_contain_text(BIAS)
    page.fill("textarea[name=description]", "New ACS bias from the browser")
    page.uncheck("input[name=compare_old_reference]")
    page.click("#batch-submit-form button[type=submit]")
    expect(page.locator("#jpoll_log")).to_contain_text(f"Certifying '{BIAS}'", timeout=120_000)
    page.wait_for_url(re.compile(r".*/display_result/[0-9a-f-]{36}$"), timeout=300_000)
    expect(page.locator("#submission-status")).to_contain_text("READY")
    official = page.locator(f"[id='{BIAS}']").inner_text().strip()
    assert re.match(r"^[0-9a-z]{8}j_bia\.fits$", official), official
    expect(page.locator("body")).to_contain_text("Logical Diff ('hst_acs_biasfile_0345.rmap', "
                                                 "'hst_acs_biasfile_0346.rmap')")
    page.screenshot(path=str(SCREENSHOTS / "submission_ready.png"), full_page=True)

    page.click("#confirm")
    expect(page.locator("#submission-status")).to_contain_text("CONFIRMED", timeout=120_000)
    expect(page.locator("[id='hst_0729.pmap'] a")).to_have_text("hst_0730.pmap")
    expect(page.locator(f"[id='{BIAS}'] a")).to_have_text(official)
    assert page.locator("#error_message").count() == 0
    page.screenshot(path=str(SCREENSHOTS / "submission_confirmed.png"), full_page=True)
    assert page.request.get(url + "/lock_status/web_submitter/").json()["status"] == "error"  # lock released


READY_UNDER_LOCK = """
import uuid
from interactive import submission
from interactive.models import StoredResult
from locking import service
lock = service.instrument_lock("web_submitter")
print(StoredResult.objects.create(
    name=str(uuid.uuid4()), page_template=submission.READY_TEMPLATE, user="web_submitter",
    parameters={"pmap": "hst_0729.pmap", "pmap_mode": "pmap_edit", "submission_kind": "batch submit",
                "description": "Awaiting a decision", "submitter": "web_submitter", "disposition": "",
                "requires_locking": True, "should_still_be_locked": lock.lock_id, "locked_instrument": "acs",
                "instrument": "acs"}).name)
"""


def test_ready_page_hides_its_buttons_when_the_lock_drops(server, page):
    """§5.4: the header's lock poll tells the READY page; it hides the buttons and asks for a new login."""
    from playwright.sync_api import expect

    url = server.url
    log_in(page, url)
    made = server.manage("shell", "-c", READY_UNDER_LOCK)
    result_id = made.stdout.strip().splitlines()[-1]
    assert re.match(r"^[0-9a-f-]{36}$", result_id), (made.stdout, made.stderr)
    page.goto(f"{url}/display_result/{result_id}")
    expect(page.locator("#confirm")).to_be_visible()
    expect(page.locator("#force")).to_be_visible()
    expect(page.locator("#lock-needed")).to_be_hidden()

    server.manage("shell", "-c", "from locking import service; service.release_all('web_submitter')")
    expect(page.locator("#lock-needed")).to_be_visible(timeout=15_000)
    expect(page.locator("#lock-needed")).to_contain_text("log in again with the lock on acs to cancel or force")
    expect(page.locator("#confirm-form")).to_be_hidden()
    expect(page.locator("#lock-indicator")).to_have_text("LOCK DROPPED")
