"""Official names and counters (server-behaviour.md §5.8)."""

from __future__ import annotations

import datetime
import threading

from crds.core import config as crds_config
from crds_server.testing import CatalogTestCase
from django.db import connection
from django.test import TransactionTestCase

from interactive import naming, storage
from interactive.models import Counter, FileRecord


class CrdsNameTests(CatalogTestCase):
    def test_next_rmap_name_follows_the_newest_cataloged_serial(self):
        serials = naming.existing_serials("acs", "biasfile", ".rmap")
        self.assertEqual(max(serials), 345)
        first = naming.new_crds_name("acs", "biasfile", ".rmap")
        second = naming.new_crds_name("acs", "biasfile", ".rmap")
        self.assertEqual((first, second), ("hst_acs_biasfile_0346.rmap", "hst_acs_biasfile_0347.rmap"))
        self.assertEqual(Counter.objects.get(name="hst_acs_biasfile_.rmap").counter, 347)

    def test_imap_and_pmap_names(self):
        self.assertEqual(naming.new_mapping_name("hst_0729.pmap"), "hst_0730.pmap")
        newest = max(s for s in naming.existing_serials("acs", "", ".imap") if s < 9999)
        self.assertEqual(naming.new_mapping_name("hst_acs_0300.imap"), f"hst_acs_{newest + 1:04d}.imap")
        self.assertEqual(naming.new_mapping_name("hst_cos_flatfile_0002.rmap"),
                         f"hst_cos_flatfile_{max(naming.existing_serials('cos', 'flatfile', '.rmap')) + 1:04d}.rmap")

    def test_test_named_9999_files_do_not_push_names_out_of_the_crds_patterns(self):
        self.assertTrue(FileRecord.objects.filter(name="hst_acs_9999.imap").exists())  # in the test cache
        newest = max(s for s in naming.existing_serials("acs", "", ".imap") if s < 9999)
        for name in ("hst_acs_99999.imap",):
            FileRecord.objects.create(name=name, type="mapping", observatory="hst", instrument="acs")
        name = naming.new_mapping_name("hst_acs_0300.imap")
        self.assertEqual(name, f"hst_acs_{newest + 1:04d}.imap")
        self.assertTrue(crds_config.is_valid_mapping_name(name))

    def test_test_named_9998_and_9999_rmaps_are_stepped_over(self):
        self.assertEqual(naming.existing_serials("cos", "deadtab", ".rmap")[-2:], [9998, 9999])  # test cache
        name = naming.new_crds_name("cos", "deadtab", ".rmap")
        self.assertEqual(name, "hst_cos_deadtab_0253.rmap")
        self.assertTrue(crds_config.is_valid_mapping_name(name))
        self.assertEqual(naming.serial_floor([1, 250, 251, 252, 9999]), 252)
        self.assertEqual(naming.serial_floor([]), 0)
        self.assertEqual(naming.serial_floor([9999]), 9999)

    def test_serials_present_in_catalog_or_cache_raise_the_counter(self):
        FileRecord.objects.create(name="hst_acs_biasfile_0346.rmap", type="mapping", observatory="hst",
                                  state="uploaded")
        self.assertEqual(naming.new_crds_name("acs", "biasfile", ".rmap"), "hst_acs_biasfile_0347.rmap")
        path = storage.cache_path("hst_acs_biasfile_0350.rmap")
        path.write_text("stray")
        self.addCleanup(path.unlink)
        self.assertEqual(naming.new_crds_name("acs", "biasfile", ".rmap"), "hst_acs_biasfile_0351.rmap")

    def test_taken_names_are_skipped_and_the_four_digit_limit_holds(self):
        Counter.objects.create(name="hst_acs__.imap", counter=9997)
        self.assertEqual(naming.new_mapping_name("hst_acs_0300.imap"), "hst_acs_9998.imap")
        with self.assertRaisesMessage(naming.NamingError, "No four-digit serial is left"):
            naming.new_mapping_name("hst_acs_0300.imap")  # 9999 is taken by a test file

    def test_counters_only_go_up(self):
        Counter.objects.create(name="hst_acs_biasfile_.rmap", counter=500)
        self.assertEqual(naming.new_crds_name("acs", "biasfile", ".rmap"), "hst_acs_biasfile_0501.rmap")

    def test_exhausted_counter_is_an_error_not_a_bad_name(self):
        Counter.objects.create(name="hst_acs_biasfile_.rmap", counter=9999)
        with self.assertRaisesMessage(naming.NamingError, "No four-digit serial is left"):
            naming.new_crds_name("acs", "biasfile", ".rmap")

    def test_hst_references_get_unique_cdbs_style_names(self):
        from crds.hst import locate as hst_locate

        def at(seconds):
            return hst_locate.generate_unique_name_core("acs", "biasfile", ".fits",
                                                        now=now + datetime.timedelta(seconds=seconds))

        now = datetime.datetime(2026, 11, 29, 10, 15, 30)
        names = [naming.new_hst_reference_name("acs", "biasfile", ".fits", now=now) for _ in range(3)]
        # Successive 2-second slots from the requested time on: no sleeping, no reuse.
        self.assertEqual(names, [at(0), at(2), at(4)])
        for name in names:
            self.assertTrue(crds_config.is_valid_reference_name(name), name)
            self.assertTrue(name.endswith("j_bia.fits"), name)
        FileRecord.objects.create(name=at(6), type="reference", observatory="hst")
        self.assertEqual(naming.new_hst_reference_name("acs", "biasfile", ".fits", now=now), at(8))

    def test_delivery_ids_increase(self):
        first = naming.delivery_id()
        self.assertEqual(naming.delivery_id(), first + 1)
        self.assertEqual(Counter.objects.get(name="hst_delivery_id").counter, first + 1)


class ConcurrentCounterTests(TransactionTestCase):
    def test_concurrent_increments_never_share_a_number(self):
        if connection.vendor == "sqlite" and connection.is_in_memory_db():
            self.skipTest("in-memory SQLite locks whole tables without waiting; run with the MariaDB stack")
        results: list[int] = []
        errors: list[BaseException] = []

        def work():
            from django.db import connections
            try:
                for _ in range(20):
                    results.append(naming.next_serial("race_counter"))
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(errors, [])
        self.assertEqual(sorted(results), list(range(1, 81)))
