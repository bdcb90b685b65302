"""Shared set-up of the read-only page tests: the imported catalog and a fresh page cache."""

from __future__ import annotations

import re

from crds_server.testing import CatalogTestCase
from django.core.cache import cache

SERVER_PATH_RE = re.compile(r"(/tmp/|/work/|/var/|/home/|site-packages)")


def server_failure(response) -> bool:
    """A 5xx, a traceback or a server path: what no answer to bad input may show."""
    body = response.content.decode(errors="replace")
    return response.status_code >= 500 or "Traceback" in body or bool(SERVER_PATH_RE.search(body))


class PageTestCase(CatalogTestCase):
    """Cached page data is keyed by catalog generation, which a rolled-back test never advances."""

    def setUp(self):
        super().setUp()
        cache.clear()

    def assertNoServerPaths(self, response):
        text = response.content.decode()
        self.assertIsNone(SERVER_PATH_RE.search(text), SERVER_PATH_RE.findall(text)[:3])
