"""The live archive status of delivered files where people and clients see it (server-behaviour.md §2.1, §3.2, §3.3).

Browse filters and the delivery list show the derived status the file page
shows; the answers about one file (Set Context, the file RPCs, downloads)
re-read a transitory record's delivery catalog instead of waiting for the
5-minute update.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core import mail
from django.core.cache import cache
from django.test import Client, override_settings

from interactive import badfiles, browse, contexts, delivery, set_context
from interactive.models import ARCHIVED, DELIVERED, LATEST, FileRecord
from interactive.tests.page_support import PageTestCase

OLD, NEW = "hst_0728.pmap", "hst_0729.pmap"
# Mappings of hst_0728.pmap that hst_0729.pmap no longer uses: deliverable and markable bad.
DARK, DRKC = "hst_wfc3_darkfile_0389.rmap", "hst_wfc3_drkcfile_0092.rmap"
OPS_STATES = ("archived", "latest", "operational")


def rpc(client: Client, method: str, *params):
    return client.post(f"/json/{method}", json.dumps({"jsonrpc": "1.0", "method": method, "params": list(params),
                                                      "id": 1}), content_type="application/json").json()


class ArchiveStatusTestCase(PageTestCase):
    """A private delivery area, as the archive poller sees it."""

    def setUp(self):
        super().setUp()
        self.tmp = Path(tempfile.mkdtemp(prefix="server-files-", dir=settings.CRDS_FILE_CACHE.parent))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.area = self.tmp / "deliveries"
        self.area.mkdir()
        override = override_settings(CRDS_DELIVERY_DIRS=[self.area], CRDS_SERVER_FILES=self.tmp)
        override.enable()
        self.addCleanup(override.disable)

    def names_with_status(self, status: str) -> set[str]:
        """Which of the two delivered rmaps browse counts and lists with `status`."""
        shown = set()
        for name in (DARK, DRKC):
            found = browse.page(browse.Filters(status=status, glob=name))
            self.assertEqual(found.count, len(found.rows))
            shown |= {row.name for row in found.rows}
        return shown


class DerivedStatusShownTests(ArchiveStatusTestCase):
    def test_browse_filter_and_delivery_list_follow_the_file_page(self):
        made = delivery.deliver([DARK, DRKC], "batch submit", "Darks", "alice")
        self.assertEqual(self.names_with_status("delivered"), {DARK, DRKC})
        (self.area / made.catalog).rename(self.area / (made.catalog + "_SUBMIT"))

        page = self.client.get(f"/browse/{DARK}")
        self.assertContains(page, "submitted")
        self.assertEqual(self.names_with_status("submitted"), {DARK, DRKC})
        self.assertEqual(self.names_with_status("delivered"), set())
        self.assertNotIn(DARK, self.names_with_status("archived"))
        (row,) = [r for r in delivery.deliveries() if r.catalog == made.catalog]
        self.assertEqual(row.status, "submitted")

        badfiles.mark([DARK], "bad", "Wrong darks", "operator")
        (row,) = [r for r in delivery.deliveries() if r.catalog == made.catalog]
        self.assertEqual(row.status, "bad")
        self.assertEqual(self.names_with_status("submitted"), {DRKC})
        self.assertIn(DARK, self.names_with_status("bad"))

        (self.area / (made.catalog + "_SUBMIT")).unlink()
        self.assertIn(DRKC, self.names_with_status("archived"))
        self.assertEqual(self.names_with_status("submitted"), set())


@override_settings(CRDS_DISTRIBUTION_STATES=OPS_STATES)
class AvailabilityRecheckedTests(ArchiveStatusTestCase):
    """On an OPS server only archived files are distributed: a delivered pmap becomes usable when archived."""

    def setUp(self):
        super().setUp()
        self.catalog = self.area / "opus_77_i.cat"
        self.catalog.write_text(f"{OLD}\n")
        FileRecord.objects.filter(name=OLD).update(state=DELIVERED, catalog_link=str(self.catalog))

    def test_set_context_sees_the_archived_pmap(self):
        with self.assertRaisesMessage(set_context.SetContextError, f"Context '{OLD}' is not yet available"):
            set_context.set_context("latest", OLD, "Back to the previous context", "operator")
        self.catalog.unlink()
        set_context.set_context("latest", OLD, "Back to the previous context", "operator")
        self.assertEqual(contexts.get_pointer("latest"), OLD)
        self.assertEqual(self.record(OLD).state, LATEST)

    def test_file_rpcs_and_download_see_the_archived_pmap(self):
        client = Client()
        self.assertIn("not yet available", rpc(client, "get_file_info", "hst", OLD)["error"]["message"])
        self.assertEqual(client.get(f"/unchecked_get/mappings/hst/{OLD}").status_code, 404)
        self.assertNotIn(OLD, rpc(client, "list_mappings", "hst", "hst_07*.pmap")["result"])
        self.catalog.unlink()
        self.assertEqual(rpc(client, "get_file_info", "hst", OLD)["result"]["state"], ARCHIVED)
        self.assertEqual(self.record(OLD).state, ARCHIVED)
        self.assertIn(OLD, rpc(client, "list_mappings", "hst", "hst_07*.pmap")["result"])

    def test_download_sees_the_archived_pmap(self):
        client = Client()
        self.catalog.unlink()
        response = client.get(f"/unchecked_get/mappings/hst/{OLD}")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(b"".join(response.streaming_content if response.streaming else [response.content]),
                         self.cache_path(OLD).read_bytes())
        self.assertEqual(self.record(OLD).state, ARCHIVED)




class AreaUnseenTests(ArchiveStatusTestCase):
    """A catalog missing from a delivery area the server cannot see proves nothing: no record is archived."""

    def setUp(self):
        super().setUp()
        self.catalog = self.area / delivery.deliver([DARK, DRKC], "batch submit", "Darks", "alice").catalog

    def states(self) -> dict[str, str]:
        return dict(FileRecord.objects.filter(name__in=[DARK, DRKC]).values_list("name", "state"))

    def assert_nothing_stored(self):
        self.assertEqual(delivery.update_delivery_status(), 0)
        self.assertEqual(delivery.refresh(self.record(DARK)), DELIVERED)
        self.assertEqual(self.states(), {DARK: DELIVERED, DRKC: DELIVERED})

    def test_missing_directory(self):
        self.area.rename(self.tmp / "moved-away")
        self.assert_nothing_stored()
        (self.tmp / "moved-away").rename(self.area)  # back, the delivery still waiting
        self.assertEqual(delivery.update_delivery_status(), 0)
        self.assertEqual(delivery.archive_status(self.record(DARK)), DELIVERED)
        self.catalog.unlink()
        self.assertEqual(delivery.update_delivery_status(), 2)
        self.assertEqual(self.states(), {DARK: ARCHIVED, DRKC: ARCHIVED})

    @override_settings(CRDS_ADMIN_EMAILS=["ops@example.org"])
    def test_beat_task_fails_while_the_area_is_hidden_and_the_operators_are_told(self):
        from interactive import tasks

        cache.clear()
        self.addCleanup(cache.clear)
        self.area.rename(self.tmp / "moved-away")
        self.assertEqual(tasks.update_delivery_status.apply(throw=False).status, "FAILURE")
        self.assertEqual(tasks.update_delivery_status.apply(throw=False).status, "FAILURE")
        self.assertEqual(self.states(), {DARK: DELIVERED, DRKC: DELIVERED})
        (self.tmp / "moved-away").rename(self.area)
        self.catalog.unlink()
        self.assertEqual(tasks.update_delivery_status.apply().get(), 2)
        subjects = [message.subject for message in mail.outbox]
        self.assertEqual(len(subjects), 2, subjects)
        self.assertIn(f"scheduled job interactive.update_delivery_status FAILED: DeliveryError: delivery area "
                      f"{self.area} is missing, unreadable or not mounted", subjects[0])
        self.assertIn("scheduled job interactive.update_delivery_status recovered", subjects[1])
        self.assertIn("after 2 failed runs", subjects[1])

    def test_unmounted_directory_is_not_on_the_file_cache_file_system(self):
        elsewhere = Path("/dev/shm")
        if not elsewhere.is_dir() or elsewhere.stat().st_dev == self.area.stat().st_dev:
            self.skipTest("needs /dev/shm on a file system other than the file cache's")
        mount_point = Path(tempfile.mkdtemp(prefix="unmounted-deliveries-", dir=elsewhere))
        self.addCleanup(mount_point.rmdir)
        with override_settings(CRDS_DELIVERY_DIRS=[mount_point]):
            self.assert_nothing_stored()
        self.catalog.unlink()
        self.assertEqual(delivery.update_delivery_status(), 2)

    def test_offline_server(self):
        self.catalog.unlink()
        flag = self.tmp / "server_offline"
        flag.write_text("backup since 2025-01-01 00:00:00\n")
        with override_settings(CRDS_OFFLINE_FLAG=str(flag)):
            self.assertEqual(delivery.update_delivery_status(), 0)
            self.assertEqual(self.states(), {DARK: DELIVERED, DRKC: DELIVERED})
            flag.unlink()
            self.assertEqual(delivery.update_delivery_status(), 2)
        self.assertEqual(self.states(), {DARK: ARCHIVED, DRKC: ARCHIVED})
