"""Importing a standard CRDS cache into the catalog (./init --from-cache, issue 2).

The session fixture (conftest.py) has already imported the HST test cache;
the first class checks that catalog against the cache itself and against the
crds library.  The others import small caches built from it into a temporary
file cache, so nothing they do reaches the shared catalog's files.
"""

from __future__ import annotations

import ast
import base64
import datetime
import gzip
import hashlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

from astropy.io import fits
from crds.core import rmap
from crds_server import testing
from crds_server.testing import CatalogTestCase, import_test_cache, make_cache, use_temporary_file_cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import TestCase

from interactive import contexts, headers, importer, set_context, storage
from interactive.models import ACTIVATION_PLACEHOLDER, AuditAction, ContextHistory, ContextPointer, FileRecord

CACHE = testing.test_cache()
SERVER_CONFIG = ast.literal_eval((CACHE / "config/hst/server_config").read_text())
METADATA = json.loads(gzip.decompress(base64.b64decode(SERVER_CONFIG["download_metadata"]["crds_payload"])))
MAPPINGS = sorted(p.name for p in (CACHE / "mappings/hst").iterdir())
REFERENCES = sorted(p.name for p in (CACHE / "references/hst").iterdir())
DAMAGED = "hst_acs_darkfile_missing_key.rmap"  # its header sha1sum does not match its text


def sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


class ImportedTestCacheTests(CatalogTestCase):
    """The catalog the session imported from the HST test cache."""

    def test_every_mapping_reference_and_listed_file_is_cataloged(self):
        held = set(MAPPINGS) | set(REFERENCES)
        self.assertEqual(FileRecord.objects.filter(type="mapping", present=True).count(), len(MAPPINGS))
        self.assertEqual(FileRecord.objects.filter(type="reference", present=True).count(), len(REFERENCES))
        self.assertEqual(FileRecord.objects.filter(present=False).count(), len(set(METADATA) - held))
        self.assertEqual(FileRecord.objects.count(), len(set(METADATA) | held))
        self.assertEqual(len(MAPPINGS), 2288)
        self.assertGreater(FileRecord.objects.count(), 43000)

    def test_context_history_is_the_server_configs(self):
        self.assertEqual(ContextHistory.objects.count(), 398)
        history = [[row.start_date.strftime("%Y-%m-%d %H:%M:%S"), row.context, row.description]
                   for row in contexts.public_history()]
        self.assertEqual(history, SERVER_CONFIG["context_history"])

    def test_pointers_are_the_server_configs(self):
        pointers = dict(ContextPointer.objects.values_list("kind", "context"))
        self.assertEqual(pointers["latest"], SERVER_CONFIG["operational_context"])
        self.assertEqual(pointers["edit"], SERVER_CONFIG["edit_context"])
        self.assertNotIn("versions", pointers)  # empty in the server_config

    def test_latest_state_is_exactly_the_operational_closure_by_crds(self):
        context = rmap.load_mapping(SERVER_CONFIG["operational_context"])
        closure = set(context.mapping_names()) | set(context.reference_names()) | {context.basename}
        geis_partners = {name[:-1] + "d" for name in closure if name[-3:-1] in {f"r{i}" for i in range(10)}}
        cataloged = set(FileRecord.objects.values_list("name", flat=True))
        latest = set(FileRecord.objects.filter(state="latest").values_list("name", flat=True))
        self.assertEqual(latest, (closure | geis_partners) & cataloged)
        self.assertEqual(set(FileRecord.objects.values_list("state", flat=True)), {"latest", "archived"})
        self.assertEqual(self.record("hst_0728.pmap").state, "archived")

    def test_bad_files_are_rejected_and_nothing_else(self):
        rejected = set(FileRecord.objects.filter(rejected=True).values_list("name", flat=True))
        self.assertEqual(rejected, set(SERVER_CONFIG["bad_files_list"]))
        # The list names references only: no rules are blacklisted.
        self.assertFalse(FileRecord.objects.filter(blacklisted=True).exists())

    def test_mapping_fields_come_from_name_header_and_bytes(self):
        rmap_record = self.record("hst_acs_biasfile_0283.rmap")
        self.assertEqual((rmap_record.instrument, rmap_record.filekind), ("acs", "biasfile"))
        self.assertEqual(rmap_record.derived_from, "hst_acs_biasfile_0282.rmap")
        self.assertEqual(rmap_record.sha1sum, sha1(CACHE / "mappings/hst/hst_acs_biasfile_0283.rmap"))
        self.assertEqual(rmap_record.sha1sum, METADATA["hst_acs_biasfile_0283.rmap"]["sha1sum"])
        self.assertEqual(rmap_record.size, (CACHE / "mappings/hst/hst_acs_biasfile_0283.rmap").stat().st_size)
        pmap = self.record("hst_0729.pmap")
        self.assertEqual((pmap.instrument, pmap.filekind, pmap.derived_from), ("", "", "hst_0728.pmap"))
        self.assertEqual(pmap.activation_date, datetime.datetime(2019, 9, 9, 16, 9, 51))
        imap = self.record("hst_acs_0421.imap")
        self.assertEqual((imap.instrument, imap.filekind), ("acs", ""))

    def test_latest_closure_is_dated_by_the_first_history_context_holding_it(self):
        latest, previous = "hst_0729.pmap", "hst_0728.pmap"
        started = {row.context: row.start_date for row in contexts.public_history()}
        new_in_latest = set_context.closure(latest) - set_context.closure(previous)
        self.assertTrue({"hst_wfc3_0431.imap", "hst_wfc3_darkfile_0390.rmap"} <= new_in_latest)
        dates = dict(FileRecord.objects.values_list("name", "activation_date"))
        for name in new_in_latest & set(dates):
            self.assertEqual(dates[name], started[latest], name)
        undated = sorted(n for n in set_context.closure(latest) if dates.get(n) == ACTIVATION_PLACEHOLDER)
        self.assertEqual(undated, [])
        kept = sorted((set_context.closure(latest) & set_context.closure(previous)) & set(dates))
        self.assertTrue(all(dates[name] <= started[previous] for name in kept))
        result = set_context.set_context("latest", previous, "Back one context", "operator")
        self.assertEqual(result.activated, 0)

    def test_reference_fields_come_from_its_header(self):
        path = CACHE / "references/hst/v8q14451j_idc.fits"
        header = fits.getheader(path)
        record = self.record("v8q14451j_idc.fits")
        self.assertEqual((record.instrument, record.filekind, record.type), ("acs", "idctab", "reference"))
        self.assertEqual(record.sha1sum, sha1(path))
        self.assertEqual(record.size, path.stat().st_size)
        self.assertEqual(record.pedigree, header["PEDIGREE"])
        self.assertEqual(record.comment, header["DESCRIP"])
        self.assertEqual(record.useafter_date, datetime.datetime(2002, 10, 21))
        self.assertIn("Colin Cox", record.history)
        self.assertTrue(record.present)

    def test_listed_only_files_keep_their_recorded_checksum_and_size(self):
        name = next(n for n in sorted(METADATA) if n.endswith("_drk.fits") and n not in REFERENCES)
        record = self.record(name)
        self.assertFalse(record.present)
        self.assertEqual(record.sha1sum, METADATA[name]["sha1sum"])
        self.assertEqual(record.size, int(METADATA[name]["size"]))
        self.assertNotEqual(record.instrument, "")
        self.assertFalse(storage.cache_path(name).exists())

    def test_held_files_are_in_the_server_cache_read_only(self):
        for name in ["hst_0729.pmap", "hst_acs_biasfile_0283.rmap"] + REFERENCES:
            path = storage.cache_path(name)
            self.assertEqual(path.stat().st_mode & 0o777, 0o444, name)
            self.assertEqual(sha1(path), self.record(name).sha1sum, name)
        self.assertTrue((storage.config_dir() / "server_config").is_file())

    def test_session_catalog_copies_rather_than_links_the_shared_data(self):
        shared = CACHE / "mappings/hst/hst_0729.pmap"
        self.assertNotEqual(storage.cache_path("hst_0729.pmap").stat().st_ino, shared.stat().st_ino)

    def test_one_audit_row_summarises_the_import_and_names_damaged_files(self):
        rows = AuditAction.objects.filter(action="mass import")
        self.assertEqual(rows.count(), 1)
        self.assertIn(DAMAGED, rows[0].details)
        self.assertIn("43780 files", rows[0].details)
        self.assertEqual(rows[0].filename, "hst_0729.pmap")
        self.assertNotIn(str(CACHE), rows[0].details + rows[0].why)  # no server paths

    def test_damaged_mapping_is_cataloged_with_its_real_checksum(self):
        record = self.record(DAMAGED)
        self.assertEqual(record.sha1sum, sha1(CACHE / "mappings/hst" / DAMAGED))


class RefusalTests(TestCase):
    """Bad requests change nothing and say what is wrong."""

    def setUp(self):
        self.count = FileRecord.objects.count()
        self.tmp = Path(tempfile.mkdtemp(prefix="import-bad-"))
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def assertRefused(self, cache_dir, message, **keys):
        with self.assertRaisesMessage(importer.ImportFailed, message):
            importer.import_cache(cache_dir, **keys)
        self.assertEqual(FileRecord.objects.count(), self.count)
        self.assertEqual(AuditAction.objects.filter(action="mass import").count(), 1)

    def test_non_empty_catalog_needs_force(self):
        self.assertRefused(CACHE, "Use --force")

    def test_missing_directory(self):
        self.assertRefused(self.tmp / "nowhere", "No such directory", force=True)

    def test_directory_that_is_not_a_cache(self):
        (self.tmp / "something.txt").write_text("hello")
        self.assertRefused(self.tmp, "is not a CRDS cache", force=True)

    def test_cache_of_another_observatory(self):
        make_cache(self.tmp, ["roman_0001.pmap"], observatory="roman", operational_context="roman_0001.pmap")
        self.assertRefused(self.tmp, "CRDS cache of roman, not of hst", force=True)

    def test_server_config_of_another_observatory(self):
        make_cache(self.tmp, ["hst_0001.pmap"], observatory="hst")
        (self.tmp / "config/hst/server_config").write_text(repr({"observatory": "jwst"}))
        self.assertRefused(self.tmp, "describes a jwst server", force=True)

    def test_unreadable_server_config(self):
        make_cache(self.tmp, ["hst_0001.pmap"])
        (self.tmp / "config/hst/server_config").write_text("{'observatory': 'hst',")
        self.assertRefused(self.tmp, "Cannot read", force=True)

    def test_cache_without_server_config(self):
        make_cache(self.tmp, ["hst_0001.pmap"])
        (self.tmp / "config/hst/server_config").unlink()
        self.assertRefused(self.tmp, "has no config/hst/server_config", force=True)

    def test_command_reports_refusal_as_a_command_error(self):
        with self.assertRaisesMessage(CommandError, "Use --force"):
            call_command("init_catalog", from_cache=str(CACHE), stdout=io.StringIO(), stderr=io.StringIO())
        self.assertEqual(FileRecord.objects.count(), self.count)


ACS_IMAP = "hst_acs_0421.imap"
BIAS_RMAP = "hst_acs_biasfile_0345.rmap"


class SmallCacheImportTests(TestCase):
    """Forced re-imports of small caches into a temporary file cache."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        operational = rmap.load_mapping("hst_0729.pmap")  # from the session's imported file cache
        cls.closure = sorted(set(operational.mapping_names()) | {"hst_0729.pmap"})
        cls.acs_users = {name for name in ("hst_0600.pmap", "hst_0728.pmap", "hst_0729.pmap")
                         if ACS_IMAP in rmap.load_mapping(name).mapping_names()}

    def setUp(self):
        self.file_cache = use_temporary_file_cache(self)
        self.source = Path(tempfile.mkdtemp(prefix="import-src-"))
        self.addCleanup(shutil.rmtree, self.source, ignore_errors=True)
        self.listed = {"z1q2219el_2zx.fits": {"sha1sum": "0" * 40, "size": "10"},
                       "x1234567l_abc.fits": {"sha1sum": "1" * 40, "size": "20"}}

    def small_cache(self, **info):
        info.setdefault("operational_context", "hst_0729.pmap")
        info.setdefault("edit_context", "hst_0729.pmap")
        info.setdefault("context_history", [["2019-09-09 16:09:51", "hst_0729.pmap", "newest"],
                                            ["2019-09-04 14:37:48", "hst_0728.pmap", "older"]])
        info.setdefault("download_metadata", self.listed)
        return make_cache(self.source, self.closure + ["hst_0600.pmap", "hst_0728.pmap", DAMAGED],
                          ["v8q14451j_idc.fits", "z1q2219el_2zx.fits"], **info)

    def test_force_replaces_catalog_history_pointers_and_files(self):
        stale = storage.cache_path("hst_0001.pmap")
        stale.parent.mkdir(parents=True)
        stale.write_text("imported before")
        FileRecord.objects.filter(name="hst_0001.pmap").update(present=True)
        report = importer.import_cache(self.small_cache(), force=True, user="tester")
        self.assertEqual(report.mappings, len(self.closure) + 3)
        self.assertEqual(report.references, 2)
        self.assertEqual(report.metadata_only, 1)  # x1234567l_abc.fits; z1q2219el_2zx.fits is held
        self.assertEqual(FileRecord.objects.count(), len(self.closure) + 6)
        self.assertEqual(ContextHistory.objects.count(), 2)
        self.assertEqual(contexts.pointers()["latest"], "hst_0729.pmap")
        self.assertFalse(stale.exists())  # files of the wiped catalog are removed
        self.assertEqual(AuditAction.objects.filter(action="mass import").latest("id").user, "tester")
        self.assertTrue(all(storage.cache_path(n).stat().st_mode & 0o777 == 0o444 for n in self.closure))
        self.assertTrue(any("differs from the server_config" in p and "z1q2219el_2zx.fits" in p
                            for p in report.problems))

    def test_rejected_mapping_blacklists_every_mapping_that_contains_it(self):
        importer.import_cache(self.small_cache(bad_files_list=[BIAS_RMAP, "z1q2219el_2zx.fits"]), force=True)
        loaded = rmap.load_mapping("hst_0729.pmap")  # by crds, from the server's file cache
        self.assertIn(BIAS_RMAP, loaded.mapping_names())
        blacklisted = set(FileRecord.objects.filter(blacklisted=True).values_list("name", flat=True))
        self.assertEqual(self.acs_users, {"hst_0728.pmap", "hst_0729.pmap"})  # by crds; hst_0600.pmap is older
        self.assertEqual(blacklisted, {BIAS_RMAP, ACS_IMAP} | self.acs_users)
        rejected = set(FileRecord.objects.filter(rejected=True).values_list("name", flat=True))
        self.assertEqual(rejected, {BIAS_RMAP, "z1q2219el_2zx.fits"})
        self.assertFalse(FileRecord.objects.get(name="hst_0600.pmap").blacklisted)

    def test_damaged_files_are_listed_in_the_command_output(self):
        cache = self.small_cache()
        garbage = cache / "mappings/hst/hst_acs_biasfile_9990.rmap"
        garbage.write_text("header = {'name': \n this is not a mapping")
        out, err = io.StringIO(), io.StringIO()
        call_command("init_catalog", from_cache=str(cache), force=True, stdout=out, stderr=err)
        self.assertIn(f"{DAMAGED}: mapping checksum does not match", err.getvalue())
        self.assertIn("hst_acs_biasfile_9990.rmap: unparsable mapping header", err.getvalue())
        self.assertIn("damaged or unreadable files", out.getvalue())
        record = FileRecord.objects.get(name="hst_acs_biasfile_9990.rmap")
        self.assertEqual((record.instrument, record.filekind, record.sha1sum), ("acs", "biasfile", sha1(garbage)))

    def test_failure_part_way_leaves_catalog_and_file_cache_as_they_were(self):
        count = FileRecord.objects.count()
        blocker = storage.cache_path("hst_0729.pmap")  # a directory where a file must go
        (blocker / "inside").mkdir(parents=True)
        with self.assertRaisesMessage(importer.ImportFailed, "Cannot install hst_0729.pmap"):
            importer.import_cache(self.small_cache(), force=True)
        self.assertEqual(FileRecord.objects.count(), count)
        self.assertEqual(ContextHistory.objects.count(), 398)
        left = sorted(p.name for p in storage.mappings_dir().iterdir())
        self.assertEqual(left, ["hst_0729.pmap"])  # only the blocking directory
        self.assertFalse(storage.references_dir().exists() and any(storage.references_dir().iterdir()))

    def test_read_only_sources_are_linked_and_others_copied_unchanged(self):
        cache = self.small_cache()
        read_only = cache / "mappings/hst/hst_0728.pmap"
        read_only.chmod(0o444)
        writable = cache / "mappings/hst/hst_0600.pmap"
        importer.import_cache(cache, force=True)
        self.assertEqual(storage.cache_path("hst_0728.pmap").stat().st_ino, read_only.stat().st_ino)
        self.assertNotEqual(storage.cache_path("hst_0600.pmap").stat().st_ino, writable.stat().st_ino)
        self.assertEqual(writable.stat().st_mode & 0o777, 0o644)
        self.assertEqual(storage.cache_path("hst_0600.pmap").stat().st_mode & 0o777, 0o444)

    def test_empty_catalog_imports_without_force(self):
        importer.wipe_catalog()
        self.assertTrue(importer.catalog_is_empty())
        report = importer.import_cache(self.small_cache())
        self.assertEqual(report.history, 2)
        self.assertEqual(FileRecord.objects.get(name="hst_0729.pmap").state, "latest")
        self.assertEqual(FileRecord.objects.get(name="hst_0728.pmap").state, "archived")


class SessionFixtureTests(TestCase):
    def test_import_test_cache_refuses_to_import_twice(self):
        with self.assertRaisesMessage(importer.ImportFailed, "already holds"):
            import_test_cache()
        self.assertTrue(os.environ.get("CRDS_SITE_ENV"))


class HeaderMetadataTests(TestCase):
    """Catalog fields from reference headers: FITS, ASDF and GEIS, first keyword present."""

    def test_asdf_reference(self):
        fields = headers.reference_metadata(CACHE / "references/roman/roman_wfi_flat_0004.asdf", "roman")
        self.assertEqual(fields["pedigree"], "DUMMY")
        self.assertEqual(fields["reference_file_type"], "FLAT")
        self.assertEqual(fields["comment"], "roman_wfi_flat_0004 reference file.")
        self.assertEqual(fields["useafter_date"], datetime.datetime(2020, 1, 1))

    def test_geis_data_file_reads_its_header_file(self):
        data_file = Path(tempfile.mkdtemp()) / "e1b09594u.r1d"
        self.addCleanup(shutil.rmtree, data_file.parent)
        shutil.copyfile(testing.test_data() / "hst/e1b09594u.r1h", data_file.with_suffix(".r1h"))
        data_file.write_bytes(b"\0" * 16)
        self.assertEqual(headers.header_path(data_file), data_file.with_suffix(".r1h"))
        self.assertIn("Jeff Hester", headers.reference_metadata(data_file, "hst")["history"])

    def test_first_keyword_present_wins_and_undefined_values_are_skipped(self):
        fields = headers.catalog_fields({"DESCRIP": "UNDEFINED", "DESCRIPTION": "second", "META.DESCRIPTION": "third",
                                         "APERNAME": "NRCA1_FULL", "USEAFTER": "not a date", "PEDIGREE": "X" * 100})
        self.assertEqual(fields["comment"], "second")
        self.assertEqual(fields["aperture"], "NRCA1_FULL")
        self.assertNotIn("useafter_date", fields)
        self.assertEqual(fields["pedigree"], "X" * 80)
        self.assertEqual(headers.catalog_fields({"APERTURE": "WFC1", "APERNAME": "other"})["aperture"], "WFC1")

    def test_unreadable_file_gives_no_fields(self):
        broken = Path(tempfile.mkdtemp()) / "broken_bia.fits"
        self.addCleanup(shutil.rmtree, broken.parent)
        broken.write_text("not a FITS file")
        with self.assertLogs("interactive.headers", "ERROR"):
            self.assertEqual(headers.reference_metadata(broken, "hst"), {})
