"""Mark bad / ok (server-behaviour.md §3.4, §7): rejection, transitive blacklisting, reversal, page."""

from __future__ import annotations

import json
from unittest import mock

import crds
from crds.refactoring.checksum import update_checksum
from crds_server.testing import CatalogTestCase, error_message
from django.contrib.auth.models import Group, User
from django.test import Client

from interactive import badfiles, catalog, storage
from interactive.models import AuditAction, ContextPointer, FileRecord
from interactive.tests.page_support import server_failure
from interactive.tests.smtp_sink import STATUS, SmtpSinkMixin

LATEST, PREVIOUS = "hst_0729.pmap", "hst_0728.pmap"
# In hst_0728.pmap (through hst_wfc3_0430.imap) but no longer in hst_0729.pmap.
DARK, DRKC, IMAP = "hst_wfc3_darkfile_0389.rmap", "hst_wfc3_drkcfile_0092.rmap", "hst_wfc3_0430.imap"


def flags(*names):
    return {n: (r, b) for n, r, b in FileRecord.objects.filter(name__in=names).values_list(
        "name", "rejected", "blacklisted")}


class MarkBadServiceTests(SmtpSinkMixin, CatalogTestCase):
    def setUp(self):
        super().setUp()
        self.assertIn(DARK, crds.get_cached_mapping(PREVIOUS).mapping_names())
        self.assertNotIn(DARK, crds.get_cached_mapping(LATEST).mapping_names())
        self.assertFalse(any(r or b for r, b in flags(DARK, DRKC, IMAP, PREVIOUS, LATEST).values()))

    def test_bad_mapping_blacklists_every_mapping_using_it(self):
        already = set(FileRecord.objects.filter(blacklisted=True).values_list("name", flat=True))
        result = badfiles.mark([DARK], "bad", "Wrong darks", "operator")
        self.assertEqual(flags(DARK)[DARK], (True, True))
        self.assertEqual(flags(IMAP)[IMAP], (False, True))
        self.assertEqual(flags(PREVIOUS)[PREVIOUS], (False, True))
        self.assertEqual(flags(LATEST)[LATEST], (False, False))
        # Every pmap naming the imap, in any context, is blacklisted; the rest are not.
        users = {n for n in FileRecord.objects.filter(name__endswith=".pmap").values_list("name", flat=True)
                 if IMAP in badfiles._children(n)}
        self.assertIn(PREVIOUS, users)
        blacklisted_pmaps = set(FileRecord.objects.filter(name__endswith=".pmap", blacklisted=True)
                                .values_list("name", flat=True))
        self.assertTrue(users <= blacklisted_pmaps)
        self.assertEqual(set(result.blacklisted), ({DARK, IMAP} | users) - already)
        self.assertEqual(badfiles.blacklisted_by(PREVIOUS), [DARK])
        row = AuditAction.objects.filter(action="blacklist").first()
        self.assertEqual((row.filename, row.details, row.why, row.user), (DARK, "marked as 'BAD'", "Wrong darks",
                                                                          "operator"))

    def test_bad_reference_rejects_only_that_file(self):
        retired = sorted(set(crds.get_cached_mapping("hst_0700.pmap").reference_names())
                         - set(crds.get_cached_mapping(LATEST).reference_names()))
        reference = next(r for r in retired if FileRecord.objects.filter(name=r).exists())
        before = sorted(FileRecord.objects.filter(blacklisted=True).values_list("name", flat=True))
        badfiles.mark([reference], "bad", "Noisy", "operator")
        self.assertEqual(flags(reference)[reference], (True, False))
        self.assertEqual(sorted(FileRecord.objects.filter(blacklisted=True).values_list("name", flat=True)), before)

    def test_ok_clears_blacklisting_only_where_no_bad_children_remain(self):
        badfiles.mark([DARK, DRKC], "bad", "Both wrong", "operator")
        self.assertEqual(flags(IMAP)[IMAP], (False, True))
        result = badfiles.mark([DARK], "ok", "Darks fine after all", "operator")
        self.assertEqual(flags(DARK)[DARK], (False, False))
        self.assertEqual(flags(IMAP)[IMAP], (False, True))  # still contains DRKC
        self.assertEqual(flags(PREVIOUS)[PREVIOUS], (False, True))
        self.assertEqual(result.unblacklisted, [DARK])
        badfiles.mark([DRKC], "ok", "Drkc fine too", "operator")
        self.assertEqual(flags(DRKC, IMAP, PREVIOUS), {DRKC: (False, False), IMAP: (False, False),
                                                       PREVIOUS: (False, False)})
        self.assertEqual(AuditAction.objects.filter(action="blacklist", details="marked as 'OK'").count(), 2)

    def test_files_of_the_latest_context_cannot_be_marked_bad(self):
        in_latest = sorted(crds.get_cached_mapping(LATEST).reference_names())[0]
        rmap = "hst_wfc3_darkfile_0390.rmap"
        self.assertIn(rmap, crds.get_cached_mapping(LATEST).mapping_names())
        before = list(FileRecord.objects.filter(rejected=True).values_list("name", flat=True))
        with self.assertRaisesMessage(badfiles.MarkBadError, f"is in the latest context '{LATEST}'"):
            badfiles.mark([in_latest], "bad", "no", "operator")
        with self.assertRaisesMessage(badfiles.MarkBadError, "are in the latest context"):
            badfiles.mark([DARK, rmap, LATEST], "bad", "no", "operator")
        self.assertEqual(list(FileRecord.objects.filter(rejected=True).values_list("name", flat=True)), before)
        self.assertFalse(flags(DARK)[DARK][0])
        self.assertEqual(self.sent(wait=0), [])
        badfiles.mark([in_latest], "ok", "ok is always allowed", "operator")

    def test_bad_input_is_refused(self):
        cases = [([], "bad", "why", "No files were given"),
                 (["hst_nosuch_0001.rmap"], "bad", "why", "is not known to CRDS"),
                 (["../../etc/passwd"], "bad", "why", "Invalid file name"),
                 ([DARK], "evil", "why", "use 'bad' or 'ok'"),
                 ([DARK], "bad", "", "A reason is required"),
                 ([DARK], "bad", "<b>bold</b>", "A reason is required")]
        for files, flag, why, message in cases:
            with self.assertRaisesMessage(badfiles.MarkBadError, message):
                badfiles.mark(files, flag, why, "operator")
        self.assertFalse(AuditAction.objects.filter(action="blacklist").exists())

    def test_failure_midway_changes_nothing(self):
        before = sorted(FileRecord.objects.values_list("name", "rejected", "blacklisted"))
        with mock.patch.object(catalog, "audit", side_effect=OSError("disk full")):
            with self.assertRaises(OSError):
                badfiles.mark([DARK], "bad", "will fail", "operator")
        self.assertEqual(sorted(FileRecord.objects.values_list("name", "rejected", "blacklisted")), before)

    def test_mail_and_server_info_bad_files_list(self):
        User.objects.create_user("operator", email="op@example.org", first_name="Olga", last_name="Perez")
        client = Client()

        def bad_list():
            response = client.post("/json/get_server_info", json.dumps(
                {"jsonrpc": "1.0", "method": "get_server_info", "params": [], "id": 1}),
                content_type="application/json")
            return response.json()["result"]["bad_files_list"]

        self.assertNotIn(DARK, bad_list())
        badfiles.mark([DARK], "bad", "Wrong darks", "operator")
        self.assertIn(DARK, bad_list())
        self.assertNotIn(IMAP, bad_list())  # only rejected files are listed
        (recipients, message), = self.sent()
        self.assertEqual(sorted(recipients), sorted(STATUS + ["op@example.org"]))
        self.assertEqual(message["Subject"], "CRDS HST DJANGO Marked Files BAD by Olga Perez.")
        self.assertIn(IMAP, message.get_content())
        badfiles.mark([DARK], "ok", "fine", "operator")
        self.assertNotIn(DARK, bad_list())


class MarkBadPageTests(CatalogTestCase):
    def setUp(self):
        self.operator = User.objects.create_user("olga", password="pw")
        self.operator.groups.add(Group.objects.get_or_create(name="file_submission")[0])

    def test_access_csrf_and_result(self):
        self.assertIn("/login/", Client().get("/mark_bad/")["Location"])
        outsider = Client()
        outsider.force_login(User.objects.create_user("mallory", password="pw"))
        refused = outsider.post("/mark_bad/", {"file_known": DARK, "badflag": "bad", "why": "x"})
        self.assertEqual((refused.status_code, error_message(refused)),
                         (200, "You must be a member of group 'file_submission' to use this page."))
        self.assertFalse(flags(DARK)[DARK][0])
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.operator)
        response = client.get("/mark_bad/")
        self.assertEqual(response.status_code, 200)
        token = response.cookies["csrftoken"].value
        form = {"file_known": f"{DARK}, {DRKC}", "badflag": "bad", "why": "From the page"}
        self.assertEqual(client.post("/mark_bad/", form).status_code, 403)
        self.assertFalse(flags(DARK)[DARK][0])
        response = client.post("/mark_bad/", {**form, "csrfmiddlewaretoken": token})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, f"<li>{IMAP}</li>", html=True)
        self.assertEqual(flags(DARK, DRKC), {DARK: (True, True), DRKC: (True, True)})
        self.assertEqual(AuditAction.objects.filter(action="blacklist").first().user, "olga")

    def test_refusal_shown_in_error_div(self):
        client = Client()
        client.force_login(self.operator)
        response = client.post("/mark_bad/", {"file_known": LATEST, "badflag": "bad", "why": "no"})
        self.assertContains(response, "is in the latest context", status_code=400)
        self.assertContains(response, 'id="error_message"', status_code=400)

    def test_unreadable_latest_context_is_a_clear_refusal(self):
        broken = "hst_0999.pmap"  # hst_0729.pmap with a WFC3 imap the cache does not hold
        path = storage.cache_path(broken)
        path.write_text(storage.cache_path(LATEST).read_text().replace(LATEST, broken)
                        .replace("hst_wfc3_0431.imap", "hst_wfc3_0999.imap"))
        self.addCleanup(path.unlink, True)
        update_checksum(str(path))
        ContextPointer.objects.filter(kind="latest").update(context=broken)
        client = Client()
        client.force_login(self.operator)
        response = client.post("/mark_bad/", {"file_known": DARK, "badflag": "bad", "why": "Wrong darks"})
        self.assertEqual(response.status_code, 400)
        self.assertFalse(server_failure(response))
        self.assertIn(f"Cannot check the files against the latest context '{broken}', so nothing was marked",
                      error_message(response))
        self.assertIn("hst_wfc3_0999.imap", error_message(response))
        self.assertEqual(flags(DARK)[DARK], (False, False))
        self.assertFalse(AuditAction.objects.filter(action="blacklist").exists())
