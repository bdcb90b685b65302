"""Pytest plugin for browser tests: Debian's chromium driven by Playwright.

Never `playwright install`: the browser is the Debian package ./runtests installs.
Pages may only reach servers on this machine's loopback address.
"""

from __future__ import annotations

import os
import re
import shutil

import pytest

from crds_server.testing import CHECKOUT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = CHECKOUT / "docs" / "screenshots"

requires_chromium = pytest.mark.skipif(not shutil.which(CHROMIUM), reason="chromium is not installed")


@pytest.fixture(scope="session")
def chromium_browser():
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop shares the test thread
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium_browser):
    """A fresh browser context and tab that refuses every request off 127.0.0.1."""
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 1000})
    context.route(re.compile(r"^(?!http://127\.0\.0\.1:).*"), lambda route: route.abort())
    try:
        yield context.new_page()
    finally:
        context.close()
