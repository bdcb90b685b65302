"""Home page: contexts, recent history, operational references; the logged-in panel."""

from __future__ import annotations

import crds
from django.contrib.auth.models import Group, User

from interactive import contexts
from interactive.models import ContextHistory
from interactive.tests.page_support import PageTestCase


class HomePageTests(PageTestCase):
    def test_home_shows_observatory_contexts_and_instruments(self):
        contexts.set_pointer("latest", "hst_0001.pmap", "first")
        contexts.set_pointer("edit", "hst_0002.pmap")
        response = self.client.get("/")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, '<td id="observatory">hst</td>', html=False)
        self.assertContains(response, '<td id="latest-context"><a href="/browse/hst_0001.pmap">hst_0001.pmap</a>')
        self.assertContains(response, '<td id="edit-context"><a href="/browse/hst_0002.pmap">hst_0002.pmap</a>')
        self.assertContains(response, '<li class="list-inline-item">wfc3</li>', html=True)
        self.assertEqual(response["Cache-Control"].count("no-cache"), 1)

    def test_doubled_leading_slash_reaches_the_same_page(self):
        response = self.client.get("//")
        self.assertEqual(response.status_code, 200)

    def test_last_four_history_rows_and_link_to_all(self):
        response = self.client.get("/")
        rows = list(ContextHistory.objects.filter(state="latest").order_by("-start_date", "-id")[:5])
        body = response.content.decode()
        section = body[body.index('id="context-history"'):body.index('id="instruments"')]
        for row in rows[:4]:
            self.assertIn(f'<a href="/browse/{row.context}">{row.context}</a>', section)
        self.assertEqual(section.count("<tr>"), 4)
        self.assertIn('href="/display_context_history/"', section)

    def test_operational_references_by_instrument_and_type(self):
        response = self.client.get("/")
        pmap = crds.get_cached_mapping(self.OPERATIONAL)
        for instrument in pmap.selections:
            self.assertContains(response, f'<details class="instrument" id="instrument-{instrument}">')
        bias = pmap.get_imap("acs").get_rmap("biasfile")
        count = len({r for r in bias.reference_names() if r.endswith(".fits")})
        self.assertContains(response, f'<a href="/context_table/{bias.basename}">{count} references</a>')

    def test_anonymous_users_get_no_session_panel(self):
        response = self.client.get("/")
        self.assertNotContains(response, 'id="user-panel"')
        self.assertContains(response, 'href="/login/"')

    def test_logged_in_panel_shows_lock_ingest_and_services(self):
        from locking import service as locks

        from interactive import storage

        user = User.objects.create_user("sub1", password="x")
        user.groups.add(Group.objects.get_or_create(name="file_submission")[0])
        locks.acquire_instrument("sub1", "acs")
        ingest = storage.ingest_dir("sub1")
        ingest.mkdir(parents=True, exist_ok=True)
        (ingest / "my_bias.fits").write_bytes(b"x" * 10)
        self.client.force_login(user)
        response = self.client.get("/")
        self.assertContains(response, 'id="user-panel"')
        self.assertContains(response, "You hold the lock on <strong>acs</strong>")
        self.assertContains(response, "my_bias.fits (10 bytes)")
        self.assertContains(response, 'href="/set_default_context/">Set context</a>')
        self.assertNotContains(response, "Request statistics")
        self.assertContains(response, 'href="/logout/"')

    def test_plain_user_sees_no_submission_services(self):
        self.client.force_login(User.objects.create_user("plain", password="x"))
        response = self.client.get("/")
        self.assertContains(response, "You hold no instrument lock.")
        self.assertNotContains(response, "Set context")
        self.assertNotContains(response, "Mark files bad")

    def test_submission_links_appear_for_those_who_may_use_them(self):
        """Each offered link opens for its user (a member holding a lock, an unlocked superuser)."""
        from locking import service as locks

        submission_links = {"/batch_submit_references/": "Batch submit references",
                            "/submission_form/redcat_submit/": "ReDCaT submission form",
                            "/submit/reference/": "Submit references", "/submit/mapping/": "Submit mappings",
                            "/delete/reference/": "Delete references",
                            "/add_existing/reference/": "Add existing references"}
        history = {"/submission_form/redcat_list/": "Submission history"}
        superuser_only = {"/create_contexts/": "Create contexts"}
        everything = {**submission_links, **history, **superuser_only}

        def offered(response) -> dict[str, str]:
            body = response.content.decode()
            return {url: label for url, label in everything.items() if f'href="{url}">{label}</a>' in body}

        self.assertEqual(offered(self.client.get("/")), {})
        self.client.force_login(User.objects.create_user("plain", password="x"))
        self.assertEqual(offered(self.client.get("/")), history)
        member = User.objects.create_user("member", password="x")
        member.groups.add(Group.objects.get_or_create(name="file_submission")[0])
        locks.acquire_instrument("member", "acs")
        root = User.objects.create_superuser("root", password="x")
        for user, expected in ((member, {**submission_links, **history}), (root, everything)):
            self.client.force_login(user)
            self.assertEqual(offered(self.client.get("/")), expected, user)
            for url in expected:
                self.assertEqual(self.client.get(url).status_code, 200, url)
