"""Request statistics: recorded per request, written in batches, summarised for superusers only."""

import datetime

from django.contrib.auth.models import User
from django.test import Client, TestCase, override_settings

from stats import recorder
from stats.models import RequestRecord

# Password hashing dominates these tests' run time; the hasher is not what they test.
FAST_PASSWORDS = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])


@FAST_PASSWORDS
class RecordingTests(TestCase):
    def setUp(self):
        recorder.flush()
        RequestRecord.objects.all().delete()

    def test_requests_are_buffered_then_written_in_bulk(self):
        Client().get("/lock_status/nobody/")
        self.assertEqual(RequestRecord.objects.count(), 0)  # in memory until a batch is due
        self.assertGreaterEqual(recorder.pending(), 1)
        recorder.flush()
        row = RequestRecord.objects.get(path="/lock_status/nobody/")
        self.assertEqual((row.status, row.user, row.method), (200, "", ""))
        self.assertGreaterEqual(row.duration, 0)

    def test_json_rpc_method_and_user_are_recorded(self):
        User.objects.create_user("alice", password="pw")
        client = Client()
        client.login(username="alice", password="pw")
        client.get("/upload/list/")
        Client().post("/json/jpoll_abort/x-1/", '{"method": "jpoll_abort", "params": ["nope"], "id": 1}',
                      content_type="application/x-www-form-urlencoded")
        recorder.flush()
        self.assertEqual(RequestRecord.objects.get(path="/upload/list/").user, "alice")
        self.assertEqual(RequestRecord.objects.get(path="/json/jpoll_abort/x-1/").method, "jpoll_abort")

    def test_a_full_batch_is_written_when_the_request_finishes(self):
        for _ in range(recorder.BATCH_SIZE + 1):
            recorder.record("/x/", "", "", 200, 0.001)
        Client().get("/lock_status/")
        self.assertGreater(RequestRecord.objects.count(), recorder.BATCH_SIZE)
        self.assertEqual(recorder.pending(), 0)


@FAST_PASSWORDS
class PageTests(TestCase):
    def setUp(self):
        recorder.flush()
        RequestRecord.objects.all().delete()
        now = datetime.datetime.now()
        RequestRecord.objects.bulk_create([
            RequestRecord(time=now, path="/browse_db/", status=200, duration=0.9),
            RequestRecord(time=now, path="/browse_db/", status=200, duration=0.1),
            RequestRecord(time=now, path="/", status=500, duration=0.05),
            RequestRecord(time=now, path="/json/get_best_references/1/", method="get_best_references", status=200,
                          duration=2.5),
            RequestRecord(time=now - datetime.timedelta(days=30), path="/old/", status=200, duration=9.0),
        ])
        User.objects.create_user("plain", password="pw")
        User.objects.create_superuser("root", password="pw")

    def test_only_superusers_see_the_page(self):
        self.assertEqual(Client().get("/stats/").status_code, 302)
        plain = Client()
        plain.login(username="plain", password="pw")
        self.assertEqual(plain.get("/stats/").status_code, 302)

    def test_summary_per_day(self):
        client = Client()
        client.login(username="root", password="pw")
        response = client.get("/stats/?days=7")
        self.assertEqual(response.status_code, 200)
        day = response.context["summary"][0]
        self.assertEqual(day["day"], datetime.date.today())
        self.assertGreaterEqual(day["requests"], 4)
        self.assertEqual(day["errors"], 1)
        self.assertEqual(day["pages"][0]["path"], "/browse_db/")
        self.assertAlmostEqual(day["pages"][0]["slowest"], 0.9)
        self.assertEqual(day["methods"][0]["method"], "get_best_references")
        self.assertNotContains(response, "/old/")
        self.assertContains(response, "get_best_references")

    def test_bad_days_parameter_falls_back(self):
        client = Client()
        client.login(username="root", password="pw")
        self.assertEqual(client.get("/stats/?days=zzz").context["days"], 7)
        self.assertEqual(client.get("/stats/?days=100000").context["days"], 90)
