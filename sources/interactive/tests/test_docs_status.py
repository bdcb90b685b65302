"""Documentation pages (known templates only) and the server status page."""

from __future__ import annotations

import crds
import django
from crds_server.testing import error_message

from interactive.tests.page_support import PageTestCase


class DocsPageTests(PageTestCase):
    def test_known_pages(self):
        for name in ("index", "client"):
            with self.subTest(name=name):
                self.assertEqual(self.client.get(f"/docs/{name}/").status_code, 200)

    def test_unknown_and_bad_names_are_404(self):
        for name in ("nope", "..%2Fbase", "INDEX", "base"):
            with self.subTest(name=name):
                response = self.client.get(f"/docs/{name}/")
                self.assertEqual(response.status_code, 404)
                self.assertIn("There is no documentation page", error_message(response))


class ServerStatusPageTests(PageTestCase):
    def test_versions_contexts_cache_and_disk_without_paths(self):
        response = self.client.get("/server_status/")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, f"<th>crds</th><td>{crds.__version__}</td>")
        self.assertContains(response, f"<th>Django</th><td>{django.get_version()}</td>")
        self.assertContains(response, f"<th>latest</th><td>{self.OPERATIONAL}</td>")
        self.assertContains(response, 'id="cache-backend"')
        self.assertContains(response, "<td>File cache</td>")
        self.assertNoServerPaths(response)
