from django.test import TestCase

from interactive import contexts


class HomePageTests(TestCase):
    def test_home_shows_observatory_contexts_and_instruments(self):
        contexts.set_pointer("latest", "hst_0001.pmap", "first")
        contexts.set_pointer("edit", "hst_0002.pmap")
        response = self.client.get("/")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, '<td id="observatory">hst</td>', html=False)
        self.assertContains(response, "hst_0001.pmap")
        self.assertContains(response, "hst_0002.pmap")
        self.assertContains(response, "<li>wfc3</li>", html=True)
        self.assertEqual(response["Cache-Control"].count("no-cache"), 1)

    def test_doubled_leading_slash_reaches_the_same_page(self):
        response = self.client.get("//")
        self.assertEqual(response.status_code, 200)
