"""Failures outside the page decorator: the site's 500 page with div#error_message, never a traceback.

The failing view lives in this module's own URLconf (the site's URLs plus one), so production URLs
gain nothing; Django renders 500.html for it as it would for any view of the site.
"""

from __future__ import annotations

from crds_server import urls
from crds_server.testing import error_message
from django.conf import settings
from django.test import TestCase, override_settings
from django.urls import path, set_script_prefix


def failing_view(request):
    """A view without the page decorator whose failure names a server path."""
    raise RuntimeError(f"cannot read {settings.CRDS_ROOT}/server/run/state")


urlpatterns = [path("failing_view/", failing_view), *urls.urlpatterns]


@override_settings(ROOT_URLCONF=__name__, DEBUG=False)
class ServerErrorPageTests(TestCase):
    def setUp(self):
        self.client.raise_request_exception = False

    def test_unhandled_failure_gives_the_site_error_page(self):
        with self.assertLogs("django.request", "ERROR"):
            response = self.client.get("/failing_view/")
        self.assertEqual(response.status_code, 500)
        self.assertEqual(error_message(response), "internal server error")
        body = response.content.decode()
        for leak in ("Traceback", "RuntimeError", str(settings.CRDS_ROOT), "Server Error (500)"):
            self.assertNotIn(leak, body)
        self.assertIn('<link rel="stylesheet" href="/static/css/bootstrap.min.css">', body)
        self.assertIn('<a class="navbar-brand" href="/">CRDS</a>', body)

    @override_settings(STATIC_URL="/crds/static/", FORCE_SCRIPT_NAME="/crds")
    def test_error_page_follows_the_url_prefix(self):
        """A site under CRDS_URL_PREFIX (the WSGI handler sets the script prefix; the test client does not)."""
        set_script_prefix("/crds/")
        try:
            with self.assertLogs("django.request", "ERROR"):
                response = self.client.get("/failing_view/")
        finally:
            set_script_prefix("/")
        body = response.content.decode()
        self.assertIn('<link rel="stylesheet" href="/crds/static/css/crds.css">', body)
        self.assertIn('<a class="navbar-brand" href="/crds/">CRDS</a>', body)
