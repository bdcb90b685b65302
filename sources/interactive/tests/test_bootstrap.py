"""Bootstrapping an empty rule set for a brand-new server (./init without --from-cache, issue 2)."""

from __future__ import annotations

import hashlib
import io

from crds import data_file
from crds.core import config as crds_config
from crds.core import rmap
from crds_server import testing
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import TestCase

from interactive import contexts, importer, storage
from interactive.models import AuditAction, ContextHistory, FileRecord

PMAP = "hst_0000.pmap"
DATASET = testing.test_data() / "hst" / "j8bt06o6q_raw.fits"  # an ACS exposure


class BootstrapTests(TestCase):
    def setUp(self):
        self.file_cache = testing.use_temporary_file_cache(self)

    def test_non_empty_catalog_is_refused_without_force(self):
        count = FileRecord.objects.count()
        with self.assertRaisesMessage(importer.ImportFailed, "Use --force"):
            importer.bootstrap()
        with self.assertRaisesMessage(CommandError, "Use --force"):
            call_command("init_catalog", stdout=io.StringIO())
        self.assertEqual(FileRecord.objects.count(), count)
        self.assertFalse(storage.mappings_dir().exists() and any(storage.mappings_dir().iterdir()))

    def test_empty_catalog_gets_a_complete_rule_set(self):
        importer.wipe_catalog()
        out = io.StringIO()
        call_command("init_catalog", stdout=out)
        self.assertIn("Cataloged", out.getvalue())

        loaded = rmap.load_mapping(PMAP)  # by crds, from the server's file cache
        names = set(loaded.mapping_names()) | {PMAP}
        self.assertEqual(set(FileRecord.objects.values_list("name", flat=True)), names)
        self.assertEqual(sorted(loaded.selections.keys()),
                         sorted(i for i in loaded.obs_package.INSTRUMENTS if i != "all"))
        self.assertIn("hst_acs_0000.imap", names)
        self.assertIn("hst_acs_biasfile_0000.rmap", names)
        self.assertTrue(all(crds_config.is_valid_mapping_name(name) for name in names))
        for record in FileRecord.objects.all():
            path = storage.cache_path(record.name)
            self.assertEqual(path.stat().st_mode & 0o777, 0o444)
            self.assertEqual(record.sha1sum, hashlib.sha1(path.read_bytes()).hexdigest())
            self.assertEqual((record.state, record.type), ("latest", "mapping"))
        bias = FileRecord.objects.get(name="hst_acs_biasfile_0000.rmap")
        self.assertEqual((bias.instrument, bias.filekind), ("acs", "biasfile"))

        self.assertEqual({k: v for k, v in contexts.pointers().items() if v},
                         {"latest": PMAP, "edit": PMAP, "versions": PMAP})
        self.assertEqual([row.context for row in ContextHistory.objects.all()], [PMAP])
        self.assertEqual(AuditAction.objects.filter(action="mass import").latest("id").filename, PMAP)

    def test_best_references_are_not_found_rather_than_errors(self):
        importer.bootstrap(force=True)
        header = data_file.get_header(str(DATASET))
        best = rmap.load_mapping(PMAP).get_best_references(header)
        self.assertIn("biasfile", best)
        self.assertTrue(all(value.startswith("NOT FOUND") for value in best.values()), best)

    def test_force_replaces_an_imported_catalog_and_its_files(self):
        source = testing.make_cache(self.file_cache.parent / (self.file_cache.name + "-src"),
                                    ["hst_0001.pmap"], operational_context="hst_0001.pmap")
        self.addCleanup(lambda: __import__("shutil").rmtree(source, ignore_errors=True))
        importer.import_cache(source, force=True)
        self.assertTrue(storage.cache_path("hst_0001.pmap").exists())
        self.assertTrue((storage.config_dir() / "server_config").exists())
        report = importer.bootstrap(force=True)
        self.assertFalse(storage.cache_path("hst_0001.pmap").exists())
        self.assertFalse((storage.config_dir() / "server_config").exists())
        self.assertFalse(FileRecord.objects.filter(name="hst_0001.pmap").exists())
        self.assertEqual(FileRecord.objects.count(), report.mappings)
        self.assertEqual(ContextHistory.objects.count(), 1)

    def test_other_observatories_rules_build_and_load(self):
        for observatory in ("jwst", "roman"):
            texts = importer.empty_rules(observatory)
            pmap = f"{observatory}_0000.pmap"
            for name, text in texts.items():
                (self.file_cache / name).write_text(text)
            loaded = rmap.load_mapping(pmap, path=str(self.file_cache))
            self.assertEqual(set(loaded.mapping_names()), set(texts), observatory)


def test_file_cache_is_not_world_readable():
    from django.conf import settings

    from interactive import storage

    storage.make_dirs()
    assert settings.CRDS_FILE_CACHE.stat().st_mode & 0o777 == 0o750
