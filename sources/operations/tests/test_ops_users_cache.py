"""add_user, set_groups, clear_cache and publish_cache, through their management commands."""

from __future__ import annotations

import ast
import io
from unittest import mock

from crds_server.testing import CatalogTestCase, use_temporary_file_cache
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import override_settings
from interactive import cache as catalog_cache
from interactive.models import RemoteContext


def run(*args, stdin: str | None = None) -> str:
    out = io.StringIO()
    with mock.patch("sys.stdin", io.StringIO(stdin or "")):
        call_command(*args, stdout=out)
    return out.getvalue()


class UserCommandsTest(CatalogTestCase):
    def test_add_user_with_groups_and_password(self):
        line = run("add_user", "alice", "alice@example.org", "--group", "file_submission", "--password-stdin",
                   "--first-name", "Alice", stdin="s3cret\n")
        self.assertIn("added alice <alice@example.org>: file_submission", line)
        user = get_user_model().objects.get(username="alice")
        self.assertTrue(user.check_password("s3cret"))
        self.assertEqual(user.first_name, "Alice")
        self.assertFalse(user.is_superuser)

    def test_add_user_refusals_change_nothing(self):
        run("add_user", "bob", "bob@example.org")
        self.assertFalse(get_user_model().objects.get(username="bob").has_usable_password())
        for args, message in ((("bob", "bob@example.org"), "already exists"),
                              (("carol", "not-an-address"), "Invalid e-mail address"),
                              (("bad/name", "x@example.org"), "Invalid user name"),
                              (("dave", "d@example.org", "--group", "admins"), "invalid choice: 'admins'"),
                              (("erin", "e@example.org", "--password-stdin"), "held no password")):
            with self.assertRaisesMessage(CommandError, message):
                run("add_user", *args)
        self.assertEqual(list(get_user_model().objects.values_list("username", flat=True)), ["bob"])

    def test_add_user_dry_run(self):
        line = run("add_user", "frank", "frank@example.org", "--superuser", "--dry-run")
        self.assertIn("would add frank <frank@example.org> superuser", line)
        self.assertFalse(get_user_model().objects.filter(username="frank").exists())

    def test_set_groups(self):
        run("add_user", "gina", "gina@example.org", "--group", "file_submission")
        line = run("set_groups", "gina", "--add", "edit_context_history", "--remove", "file_submission",
                   "--superuser")
        self.assertEqual(line.strip(), "now gina <gina@example.org> superuser: edit_context_history")
        user = get_user_model().objects.get(username="gina")
        self.assertTrue(user.is_superuser and user.is_staff)
        self.assertIn("would change", run("set_groups", "gina", "--no-superuser", "--dry-run"))
        self.assertTrue(get_user_model().objects.get(username="gina").is_superuser)
        run("set_groups", "gina", "--no-superuser")
        self.assertFalse(get_user_model().objects.get(username="gina").is_superuser)
        with self.assertRaisesMessage(CommandError, "No user 'nobody'"):
            run("set_groups", "nobody", "--add", "file_submission")
        with self.assertRaisesMessage(CommandError, "both added and removed"):
            run("set_groups", "gina", "--add", "file_submission", "--remove", "file_submission")
        with self.assertRaisesMessage(CommandError, "invalid choice"):
            run("set_groups", "gina", "--add", "superusers")


class CacheCommandsTest(CatalogTestCase):
    def test_clear_cache(self):
        cache.set("some-page", "cached")
        generation = catalog_cache.generation()
        self.assertIn("would clear", run("clear_cache", "--dry-run"))
        self.assertEqual(cache.get("some-page"), "cached")
        line = run("clear_cache", "--prime")
        self.assertIsNone(cache.get("some-page"))
        self.assertNotEqual(catalog_cache.generation(), generation)
        self.assertRegex(line, r"primed server info \(\d{4} mappings\)")

    def test_publish_cache_writes_server_config_and_pushes_context(self):
        root = use_temporary_file_cache(self)
        line = run("publish_cache")
        config = root / "config" / "hst" / "server_config"
        info = ast.literal_eval(config.read_text())
        self.assertEqual(info["operational_context"], self.OPERATIONAL)
        self.assertIn("hst_0729.pmap", info["mappings"])
        self.assertEqual(len(info["context_history"]), 398)
        self.assertIn("04p2041cj_fls.fits", (root / "config" / "hst" / "bad_files.txt").read_text())
        remote = RemoteContext.objects.get(name="hst-django-server")
        self.assertEqual(remote.context, self.OPERATIONAL)
        self.assertIn("remote context hst-django-server", line)

    def test_publish_cache_respects_maintenance(self):
        root = use_temporary_file_cache(self)
        flag = root / "offline"
        flag.write_text("backup")
        with override_settings(CRDS_OFFLINE_FLAG=str(flag)):
            self.assertIn("server offline for maintenance", run("publish_cache"))
            self.assertFalse((root / "config" / "hst" / "server_config").exists())
            run("publish_cache", "--force")
        self.assertTrue((root / "config" / "hst" / "server_config").exists())


class BeatTasksTest(CatalogTestCase):
    """Each cron job is also a Celery beat task (for deployments without cron)."""

    def test_beat_schedule_runs_registered_tasks(self):
        from crds_server.celery import app
        from django.conf import settings

        from operations import tasks

        scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
        for name in ("operations.publish_cache", "operations.clear_web_cache", "operations.verify_cache",
                     "operations.nightly", "operations.sync_group_cache", "operations.status_report",
                     "operations.certify_cache", "operations.verify_group_cache"):
            self.assertIn(name, scheduled)
            self.assertIn(name, app.tasks)
        use_temporary_file_cache(self)
        self.assertIn("published server_config of hst_0729.pmap", tasks.publish_cache.delay().get())
        self.assertIn("cleared the LocMemCache cache", tasks.clear_web_cache.delay().get())
        self.assertIn("is not ops: nothing done", tasks.sync_group_cache.delay().get())
        self.assertIn("is not ops: nothing done", tasks.verify_group_cache.delay().get())
