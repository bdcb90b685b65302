"""The read-only pages in a real browser (Debian's chromium via Playwright) against a running server."""

from __future__ import annotations

import re

from crds_server.browser import requires_chromium

pytestmark = requires_chromium


def test_home_expand_browse_filter_and_explore_bestrefs(crds_live_server, page, tmp_path):
    from playwright.sync_api import expect

    url = crds_live_server.url
    page.goto(url + "/")
    expect(page.locator("#latest-context")).to_have_text("hst_0729.pmap")
    acs = page.locator("#instrument-acs")
    table = acs.locator("table")
    expect(table).to_be_hidden()
    acs.locator("summary").click()
    expect(table).to_be_visible()
    expect(page.locator("#type-acs-biasfile")).to_contain_text("hst_acs_biasfile_0345.rmap")
    page.screenshot(path=str(tmp_path / "home.png"))

    page.click("#site-menu >> text=Browse")
    page.select_option("#id_instrument", "acs")
    page.fill("#id_filekind", "biasfile")
    page.fill("#id_glob", "*_bia.fits")
    page.select_option("#id_per_page", "25")
    page.click("#browse-submit")
    expect(page.locator("#result-count")).to_contain_text("page 1 of")
    names = page.locator("td.file-name").all_inner_texts()
    assert len(names) == 25 and all(n.endswith("_bia.fits") for n in names)
    page.click("a.sort-link[data-column=name]")
    first_page = page.locator("td.file-name").all_inner_texts()
    assert first_page == sorted(first_page)
    page.click("#next-page")
    expect(page.locator("#result-count")).to_contain_text("page 2 of")
    second_page = page.locator("td.file-name").all_inner_texts()
    assert second_page[0] > first_page[-1]

    page.click("#site-menu >> text=Explore")
    page.select_option("#id_context", "hst_0729.pmap")
    page.select_option("#id_instrument", "acs")
    page.click("#explore-choice button")
    page.select_option("#parkey-DETECTOR", "WFC")
    page.select_option("#parkey-CCDAMP", "ABCD")
    page.select_option("#parkey-CCDGAIN", "2.0")
    page.fill("#date", "2015-01-01")
    page.click("#explore-submit")
    bias = page.locator("#bestref-biasfile")
    expect(bias).to_contain_text("_bia.fits")
    expect(bias).to_contain_text("hst_acs_biasfile_0345.rmap")
    expect(page.locator("#matching-parameters")).to_contain_text("CCDAMP")


def test_history_diff_selection_shows_logical_differences(crds_live_server, page):
    from playwright.sync_api import expect

    page.goto(crds_live_server.url + "/display_context_history/")
    page.check("input[name=file1][value='hst_0728.pmap']")
    page.check("input[name=file2][value='hst_0729.pmap']")
    page.click("#history-diff button")
    expect(page).to_have_url(re.compile(r"/difference/hst_0728\.pmap/hst_0729\.pmap/$"))
    expect(page.locator("#logical-differences")).to_contain_text("added terminal")
