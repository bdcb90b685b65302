"""Which named pmap a submission or certify may derive from (pmap_text / pmap_menu, §5.3 inputs).

Any cataloged pmap in a usable state (§3.1: active or transitory), not only distributable ones:
on an OPS server the edit context stays `delivered` until the archive takes it, and
`crds submit --derive-from-context` names it.
"""

import shutil
import tempfile
from pathlib import Path

from crds_server.testing import CatalogTestCase
from django.conf import settings
from django.test import override_settings

from interactive import certify
from interactive.models import DELIVERED, UPLOADED, FileRecord

OPS_STATES = ("archived", "latest", "operational")
EDIT, OLDER = "hst_0729.pmap", "hst_0728.pmap"


@override_settings(CRDS_DISTRIBUTION_STATES=OPS_STATES)
class DeriveFromContextTests(CatalogTestCase):
    def setUp(self):
        """EDIT delivered and not yet archived: its delivery catalog is still in the delivery area."""
        area = Path(tempfile.mkdtemp(prefix="deliveries-", dir=settings.CRDS_FILE_CACHE.parent))
        self.addCleanup(shutil.rmtree, area, True)
        override = override_settings(CRDS_DELIVERY_DIRS=[area])
        override.enable()
        self.addCleanup(override.disable)
        delivery_catalog = area / "opus_77_i.cat"
        delivery_catalog.write_text(f"{EDIT}\n")
        FileRecord.objects.filter(name=EDIT).update(state=DELIVERED, catalog_link=str(delivery_catalog))

    def test_a_delivered_pmap_may_be_named(self):
        self.assertFalse(self.record(EDIT).available)  # not distributed on an OPS server ...
        for mode in ("pmap_text", "pmap_menu"):
            self.assertEqual(certify.choose_context(mode, EDIT), EDIT)  # ... yet usable to derive from
        self.assertEqual(self.record(EDIT).state, DELIVERED)

    def test_pending_and_unknown_pmaps_are_refused(self):
        FileRecord.objects.filter(name=OLDER).update(state=UPLOADED)
        refusals = {OLDER: f"File '{OLDER}' is not yet available.",
                    "hst_9999.pmap": "File 'hst_9999.pmap' is not known to CRDS.",
                    "hst_acs_0422.imap": "Invalid context 'hst_acs_0422.imap': choose a .pmap.",
                    "../hst_0729.pmap": "Invalid file name '../hst_0729.pmap'"}
        for name, message in refusals.items():
            with self.subTest(name), self.assertRaisesMessage(certify.CertifyError, message):
                certify.choose_context("pmap_text", name)
        FileRecord.objects.filter(name=EDIT).update(blacklisted=True)  # allowed: what derives from it is too
        self.assertEqual(certify.choose_context("pmap_menu", EDIT), EDIT)
