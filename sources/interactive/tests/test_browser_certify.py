"""Login with a lock, upload with progress and certify with live progress in a real browser."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from crds_server.browser import SCREENSHOTS, requires_chromium
from crds_server.testing import test_data

HST = test_data() / "hst"

pytestmark = requires_chromium


@pytest.fixture(scope="module")
def server(crds_live_server):
    crds_live_server.manage("shell", "-c", (
        "from django.contrib.auth.models import User\n"
        "User.objects.filter(username='web_user').delete()\n"
        "User.objects.create_user('web_user', password='web-pw')\n"))
    return crds_live_server


def test_login_upload_certify_logout(server, page, tmp_path):
    from playwright.sync_api import expect

    url = server.url
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(url + "/login/")
    page.fill("#id_username", "web_user")
    page.fill("#id_password", "web-pw")
    page.select_option("#id_instrument", "cos")
    page.screenshot(path=str(SCREENSHOTS / "login.png"))
    page.click("form button[type=submit]")
    page.wait_for_url(url + "/")
    assert page.request.get(url + "/lock_status/web_user/").json()["name"] == "cos"
    expect(page.locator("#lock-indicator")).to_contain_text("cos locked")

    page.goto(url + "/upload/")
    files = [tmp_path / "hst_acs_biasfile_0001.fits", tmp_path / "hst_acs_darkfile_invalid1.rmap"]
    for path in files:
        shutil.copy(HST / path.name, path)
    page.set_input_files("#upload_files", [str(p) for p in files])
    page.click("#upload_form button[type=submit]")
    expect(page.locator("#ingest_files")).to_contain_text("hst_acs_darkfile_invalid1.rmap", timeout=30_000)
    expect(page.locator("#ingest_files")).to_contain_text("hst_acs_biasfile_0001.fits")
    page.screenshot(path=str(SCREENSHOTS / "upload.png"))

    page.goto(url + "/certify/")
    page.check("#pm_menu")
    page.fill("input[name=pmap_name]", "hst_0729.pmap")
    page.uncheck("#compare_old")
    pulled: list[str] = []
    page.on("response", lambda r: pulled.append(r.url) if "/jpoll/pull_messages/" in r.url else None)
    page.click("#certify_form button[type=submit]")
    expect(page.locator("#jpoll_log")).to_contain_text("Certifying 'hst_acs_biasfile_0001.fits'", timeout=60_000)
    page.screenshot(path=str(SCREENSHOTS / "certify_progress.png"))
    page.wait_for_url(re.compile(r".*/display_result/[0-9a-f-]{36}$"), timeout=60_000)
    assert pulled, "the page never polled its progress channel"
    rows = page.locator("#certify_results tr.certify-file")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="hst_acs_biasfile_0001.fits").locator(".certify-status")).to_have_text("OK")
    expect(rows.filter(has_text="hst_acs_darkfile_invalid1.rmap").locator(".certify-status")).to_have_text("Failed")
    page.screenshot(path=str(SCREENSHOTS / "certify_result.png"), full_page=True)

    page.goto(url + "/logout/")
    assert page.request.get(url + "/lock_status/web_user/").json()["status"] == "error"


def test_certify_form_error_is_shown_without_leaving_the_page(server, page):
    from playwright.sync_api import expect

    page.goto(server.url + "/login/")
    page.fill("#id_username", "web_user")
    page.fill("#id_password", "web-pw")
    page.click("form button[type=submit]")
    page.wait_for_url(server.url + "/")
    ingest = Path(server.root) / "server_files" / "ingest" / "web_user"
    ingest.mkdir(parents=True, exist_ok=True)
    shutil.copy(HST / "hst_acs_biasfile_0001.fits", ingest / "hst_acs_biasfile_0001.fits")
    page.goto(server.url + "/certify/")
    page.check("#pm_menu")
    page.fill("input[name=pmap_name]", "hst_9999.pmap")
    page.click("#certify_form button[type=submit]")
    expect(page.locator("#error_message")).to_contain_text("hst_9999.pmap", timeout=30_000)
    assert "/certify/" in page.url
