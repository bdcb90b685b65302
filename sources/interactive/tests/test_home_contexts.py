"""Home page: the build-context banner (§4.1, §2.3) and the remote-contexts panel for logged-in users (§4.5)."""

from __future__ import annotations

from django.contrib.auth.models import User
from jsonapi import services

from interactive import contexts
from interactive.models import BuildContext
from interactive.tests.page_support import PageTestCase

LATEST, OLDER = "hst_0729.pmap", "hst_0728.pmap"


def section(response, marker: str) -> str:
    body = response.content.decode()
    start = body.index(marker)
    return body[start:body.index("</table>", start)]


class RemoteContextsPanelTests(PageTestCase):
    def setUp(self):
        super().setUp()
        self.assertEqual(contexts.get_pointer("latest"), LATEST)
        services.push_remote_context("latest", services.add_remote("hst-ops-pipeline").key, LATEST)
        services.push_remote_context("latest", services.add_remote("hst-dev-cache").key, OLDER)
        services.add_remote("hst-new-cache")

    def test_logged_in_users_see_one_row_per_remote_cache(self):
        self.client.force_login(User.objects.create_user("viewer", password="x"))
        panel = section(self.client.get("/"), 'id="remote-contexts"')
        self.assertEqual(panel.count("<tr id=\"remote-"), 3)
        self.assertIn(f'<tr id="remote-hst-ops-pipeline"><td>hst-ops-pipeline</td><td>{LATEST}</td><td>{LATEST}</td>'
                      '<td class="remote-status">synced</td></tr>', panel)
        self.assertIn(f'<tr id="remote-hst-dev-cache"><td>hst-dev-cache</td><td>{LATEST}</td><td>{OLDER}</td>'
                      '<td class="remote-status">out of date</td></tr>', panel)
        self.assertIn(f'<tr id="remote-hst-new-cache"><td>hst-new-cache</td><td>{LATEST}</td><td>nothing pushed</td>'
                      '<td class="remote-status">out of date</td></tr>', panel)
        self.assertLess(panel.index("hst-dev-cache"), panel.index("hst-new-cache"))

    def test_a_push_of_the_latest_context_shows_synced(self):
        self.client.force_login(User.objects.create_user("viewer", password="x"))
        key = services.add_remote("hst-test-pipeline").key
        services.push_remote_context("latest", key, OLDER)
        self.assertIn("out of date", section(self.client.get("/"), 'id="remote-hst-test-pipeline"'))
        services.push_remote_context("latest", key, LATEST)
        self.assertIn(">synced<", section(self.client.get("/"), 'id="remote-hst-test-pipeline"'))

    def test_anonymous_users_see_no_remote_caches(self):
        response = self.client.get("/")
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, 'id="remote-contexts"')
        self.assertNotContains(response, "hst-ops-pipeline")


class BuildContextBannerTests(PageTestCase):
    def test_banner_names_the_build_context_and_its_cal_ver(self):
        BuildContext.objects.create(cal_ver="1.14.0", context=OLDER)
        contexts.set_pointer("build", OLDER, "build for 1.14.0")
        response = self.client.get("/")
        self.assertContains(response, f'<div id="build-context" class="alert alert-info py-2">Build context: '
                                      f'<a href="/browse/{OLDER}">{OLDER}</a> (CAL_VER 1.14.0)</div>', html=True)

    def test_banner_without_a_recorded_cal_ver(self):
        contexts.set_pointer("build", OLDER, "build")
        response = self.client.get("/")
        self.assertContains(response, f'Build context: <a href="/browse/{OLDER}">{OLDER}</a></div>')
        self.assertNotContains(response, "CAL_VER")

    def test_no_banner_without_a_build_context(self):
        self.assertEqual(contexts.get_pointer("build"), "")
        self.assertNotContains(self.client.get("/"), 'id="build-context"')
