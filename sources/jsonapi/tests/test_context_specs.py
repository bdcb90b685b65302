"""Context specifications: get_context_by_date, get_default_context, get_build_context, history (§3, §4.2).

Expected contexts come from the imported cache's own server_config history
and from the crds library reading the rules, not from the server under test.
"""

import ast
import datetime

import pytest
from crds.core import rmap
from crds_server import testing
from interactive import cache, contexts
from interactive.models import BuildContext, FileRecord


def history() -> list[tuple[datetime.datetime, str]]:
    """The latest-context history of the test cache, newest first."""
    info = ast.literal_eval((testing.test_cache() / "config" / "hst" / "server_config").read_text())
    rows = [(datetime.datetime.fromisoformat(date), pmap) for date, pmap, _ in info["context_history"]]
    return sorted(rows, reverse=True)


def in_force(when: datetime.datetime) -> str:
    return next(pmap for start, pmap in history() if start <= when)


def imap_of(pmap: str, instrument: str) -> str:
    return rmap.get_cached_mapping(pmap).get_imap(instrument).basename


@pytest.mark.parametrize("date", ["2019-09-05T00:00:00", "2019-09-09T16:09:51", "2016-01-01T00:00:00",
                                  "2015-06-30", "2019-08-20T12:00:00.123456"])
def test_bare_and_observatory_dates(rpc, date):
    when = contexts.parse_spec_date(date)
    assert rpc("get_context_by_date", date, "hst") == in_force(when)
    assert rpc("get_context_by_date", f"hst-{date}", "hst") == in_force(when)
    assert rpc("get_context_by_date", date, None) == in_force(when)


def test_dates_between_switches_pick_the_earlier_context(rpc):
    assert in_force(datetime.datetime(2019, 9, 5)) == "hst_0728.pmap"
    assert rpc("get_context_by_date", "2019-09-09T16:09:50", "hst") == "hst_0728.pmap"
    assert rpc("get_context_by_date", "2019-09-09T16:09:51", "hst") == "hst_0729.pmap"


def test_dates_with_more_than_microseconds_are_truncated(rpc):
    """The client's CONTEXT_DATETIME_RE allows any number of fractional digits; Python parses six."""
    assert rpc("get_context_by_date", "2019-09-09T16:09:50.999999999", "hst") == "hst_0728.pmap"
    assert rpc("get_context_by_date", "hst-2019-09-09T16:09:51.0000001234", "hst") == "hst_0729.pmap"
    assert rpc("get_context_by_date", "hst-acs-2019-09-09T16:09:51.1234567", "hst") == imap_of("hst_0729.pmap", "acs")


def test_instrument_and_type_level_dates(rpc):
    pmap = in_force(datetime.datetime(2017, 3, 1))
    imap = imap_of(pmap, "wfc3")
    assert rpc("get_context_by_date", "hst-wfc3-2017-03-01T00:00:00", "hst") == imap
    darkfile = rmap.get_cached_mapping(imap).get_rmap("darkfile").basename
    assert rpc("get_context_by_date", "hst-wfc3-darkfile-2017-03-01T00:00:00", "hst") == darkfile


@pytest.mark.parametrize("tag", ["edit", "latest", "operational"])
def test_tags_read_the_pointers(rpc, tag):
    expected = contexts.get_pointer("edit" if tag == "edit" else "latest")
    assert expected == "hst_0729.pmap"
    assert rpc("get_context_by_date", f"hst-{tag}", "hst") == expected
    assert rpc("get_context_by_date", f"hst-acs-{tag}", "hst") == imap_of(expected, "acs")
    acs = rmap.get_cached_mapping(imap_of(expected, "acs"))
    assert rpc("get_context_by_date", f"hst-acs-biasfile-{tag}", "hst") == acs.get_rmap("biasfile").basename


def test_versions_and_build_tags(rpc):
    assert "No 'versions' context is set" in rpc.error("get_context_by_date", "hst-versions", "hst")
    assert rpc("get_context_by_date", "hst-build", "hst") == contexts.get_pointer("latest")
    contexts.set_pointer("versions", "hst_0700.pmap")
    contexts.set_pointer("build", "hst_0701.pmap")
    assert rpc("get_context_by_date", "hst-versions", "hst") == "hst_0700.pmap"
    assert rpc("get_context_by_date", "hst-build", "hst") == "hst_0701.pmap"
    assert rpc("get_default_context", "hst", "versions") == "hst_0700.pmap"
    assert rpc("get_default_context", "hst", "build") == "hst_0701.pmap"
    assert rpc("get_server_info")["versions_context"] == "hst_0700.pmap"


@pytest.fixture
def na_context(db):
    """A cataloged pmap whose ACS imap marks biasfile N/A, written into the server's file cache."""
    from crds.refactoring.checksum import update_checksum
    from interactive import storage

    imap_text = storage.cache_path("hst_acs_0421.imap").read_text()
    imap_text = imap_text.replace("'biasfile' : 'hst_acs_biasfile_0345.rmap'", "'biasfile' : 'N/A'")
    imap_text = imap_text.replace("hst_acs_0421.imap", "hst_acs_9990.imap")
    pmap_text = storage.cache_path("hst_0729.pmap").read_text()
    pmap_text = pmap_text.replace("hst_acs_0421.imap", "hst_acs_9990.imap").replace("hst_0729.pmap", "hst_9990.pmap")
    written = []
    for name, text in (("hst_acs_9990.imap", imap_text), ("hst_9990.pmap", pmap_text)):
        path = storage.cache_path(name)
        path.write_text(text)
        update_checksum(str(path))
        written.append(path)
        FileRecord.objects.create(name=name, type="mapping", observatory="hst", state="archived")
    yield "hst_9990.pmap"
    for path in written:
        path.unlink()


def test_type_marked_na_resolves_to_na(rpc, na_context):
    contexts.set_pointer("edit", na_context)
    assert rpc("get_context_by_date", "hst-acs-biasfile-edit", "hst") == "N/A"
    assert rpc("get_context_by_date", "hst-acs-edit", "hst") == "hst_acs_9990.imap"
    assert rpc("get_context_by_date", "hst-acs-darkfile-edit", "hst") == "hst_acs_darkfile_0363.rmap"
    assert "hst_acs_9990.imap" in rpc("get_mapping_names", "hst-edit")


def test_hyphenated_type_names_are_parsed_not_rejected(rpc):
    message = rpc.error("get_context_by_date", "hst-acs-pars-tweakreg-edit", "hst")
    assert "Unknown reference type 'pars-tweakreg' for instrument 'acs'" in message


def test_literal_mappings(rpc):
    for name in ("hst_0729.pmap", "hst_acs_0421.imap", "hst_acs_biasfile_0345.rmap", "hst.pmap"):
        assert rpc("get_context_by_date", name, "hst") == name
    assert "is not known to CRDS" in rpc.error("get_context_by_date", "hst_9999.pmap", "hst")
    assert "doesn't match the observatory 'hst'" in rpc.error("get_context_by_date", "jwst_0001.pmap", "hst")
    FileRecord.objects.filter(name="hst_0729.pmap").update(state="uploaded")
    cache.invalidate()  # queryset.update() bypasses the save signals
    assert "is not yet available" in rpc.error("get_context_by_date", "hst_0729.pmap", "hst")


@pytest.mark.parametrize("spec, message", [
    ("1990-01-01T00:00:00", "No CRDS context found corresponding to (prior to) date '1990-01-01 00:00:00'"),
    ("hst-1990-01-01", "No CRDS context found corresponding to (prior to) date"),
    ("jwst-edit", "Mismatch between requested observatory 'jwst' and server observatory 'hst'"),
    ("hst-foo-edit", "Unknown instrument 'foo'"),
    ("hst-acs-nosuchtype-edit", "Unknown reference type 'nosuchtype'"),
    ("hst-edit-now", "YYYY-MM-DDTHH:MM:SS | operational | edit | versions"),
    ("hst_0729", "YYYY-MM-DDTHH:MM:SS | operational | edit"),
    ("2019-13-45T00:00:00", "Invalid date"),
    ("", "Invalid context specification"),
    ("../../etc/passwd.pmap", "Invalid file name"),
])
def test_bad_specs(rpc, spec, message):
    assert message in rpc.error("get_context_by_date", spec, "hst")


def test_default_context_states(rpc):
    assert rpc("get_default_context", "hst", None) == contexts.get_pointer("latest")
    assert rpc("get_default_context", "hst", "operational") == contexts.get_pointer("latest")
    assert rpc("get_default_context", "hst", "edit") == contexts.get_pointer("edit")
    assert "Unknown context state 'bogus'" in rpc.error("get_default_context", "hst", "bogus")


def test_build_context_by_calibration_version(rpc):
    BuildContext.objects.create(cal_ver="1.15.0", context="hst_0700.pmap")
    BuildContext.objects.create(cal_ver="1.15.3", context="hst_0705.pmap")
    BuildContext.objects.create(cal_ver="1.16.0", context="hst_0710.pmap")
    assert rpc("get_build_context", "hst", "1.15.3") == "hst_0705.pmap"
    assert rpc("get_build_context", "hst", "1.15.7") == "hst_0705.pmap"
    assert rpc("get_build_context", "hst", "1.15.2") == "hst_0700.pmap"
    assert "No build context is registered" in rpc.error("get_build_context", "hst", "1.14.9")
    assert "No build context is registered" in rpc.error("get_build_context", "hst", "2.0")
    assert "Invalid calibration software version" in rpc.error("get_build_context", "hst", "1.x; drop")
    for calver in ("1.15.3\n", "1.15." + "9" * 5000, "1.15.\u0663"):
        assert "Invalid calibration software version" in rpc.error("get_build_context", "hst", calver)


def test_context_history_is_the_latest_history_newest_first(rpc):
    rows = rpc("get_context_history", "hst")
    expected = history()
    assert [row[1] for row in rows] == [pmap for _, pmap in expected]
    assert datetime.datetime.fromisoformat(rows[0][0]) == expected[0][0]
    contexts.set_pointer("edit", "hst_0700.pmap")
    assert len(rpc("get_context_history", "hst")) == len(rows)
    assert "Mismatch" in rpc.error("get_context_history", "jwst")
