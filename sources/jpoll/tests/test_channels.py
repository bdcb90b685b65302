"""jpoll channels: open, write, pull once in order, abort, unknown keys, expiry, monitor page."""

import datetime
import json
import uuid

from django.contrib.auth.models import User
from django.test import Client, TestCase, override_settings

from jpoll import rpc, service
from jpoll.models import Channel, Message

# Password hashing dominates these tests' run time; the hasher is not what they test.
FAST_PASSWORDS = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])


class ChannelServiceTests(TestCase):
    def setUp(self):
        self.key = service.open_channel("alice")

    def test_key_is_uuid4(self):
        self.assertEqual(str(uuid.UUID(self.key)), self.key)
        self.assertEqual(uuid.UUID(self.key).version, 4)

    def test_messages_in_order_with_increasing_ids_and_escaped_text(self):
        service.write(self.key, "Certifying 'a<b>.fits'")
        service.write(self.key, "second")
        service.done(self.key, 0, "http://server/display_result/x")
        messages = service.pull(self.key, "0")
        self.assertEqual([m["type"] for m in messages], ["log_message", "log_message", "done"])
        ids = [m["id"] for m in messages]
        self.assertEqual(ids, sorted(set(ids)))
        self.assertTrue(all(isinstance(i, int) for i in ids))
        self.assertEqual(messages[0]["data"], "Certifying &#x27;a&lt;b&gt;.fits&#x27;")
        self.assertEqual(messages[2]["data"], {"status": 0, "result": "http://server/display_result/x"})
        self.assertEqual(messages[0]["channel"], self.key)
        self.assertRegex(messages[0]["time"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")

    def test_each_message_returned_once_when_pulling_since_the_last_id(self):
        service.write(self.key, "one")
        first = service.pull(self.key, "0")
        self.assertEqual(service.pull(self.key, str(first[-1]["id"])), [])
        service.write(self.key, "two")
        again = service.pull(self.key, str(first[-1]["id"]))
        self.assertEqual([m["data"] for m in again], ["two"])

    def test_non_integer_since_means_since_the_last_pull(self):
        service.write(self.key, "one")
        self.assertEqual(len(service.pull(self.key, "")), 1)
        self.assertEqual(service.pull(self.key, None), [])
        service.write(self.key, "two")
        self.assertEqual([m["data"] for m in service.pull(self.key, "x")], ["two"])

    def test_minus_one_returns_everything(self):
        service.write(self.key, "one")
        self.assertEqual(len(service.pull(self.key, -1)), 1)

    def test_channels_do_not_mix(self):
        other = service.open_channel("bob")
        service.write(other, "bob's")
        service.write(self.key, "alice's")
        self.assertEqual([m["data"] for m in service.pull(self.key, 0)], ["alice&#x27;s"])

    def test_unknown_channel(self):
        for key in (str(uuid.uuid4()), "not-a-key", None, 5):
            with self.subTest(key=key), self.assertRaises(service.ChannelNotFound) as caught:
                service.pull(key, "0")
            self.assertIn("Channel", str(caught.exception))
            self.assertIn("not found", str(caught.exception))

    def test_abort_stops_the_writer_at_its_next_write(self):
        service.write(self.key, "working")
        service.abort(self.key)
        with self.assertRaises(service.Aborted) as caught:
            service.write(self.key, "more")
        self.assertEqual(str(caught.exception), "External agent requested calling process termination.")
        self.assertEqual(len(service.pull(self.key, 0)), 1)

    def test_done_after_an_abort_is_stored_and_never_raises(self):
        service.abort(self.key)
        service.done(self.key, service.OK, "http://server/display_result/x")
        messages = service.pull(self.key, 0)
        self.assertEqual([(m["type"], m["data"]) for m in messages],
                         [("done", {"status": 0, "result": "http://server/display_result/x"})])

    def test_write_to_a_missing_channel_never_raises(self):
        service.write(str(uuid.uuid4()), "lost")
        self.assertFalse(Message.objects.filter(data="lost").exists())

    def test_expire_removes_old_channels_and_their_messages(self):
        old = service.open_channel("alice")
        service.write(old, "old news")
        Channel.objects.filter(key=old).update(created=datetime.datetime.now() - datetime.timedelta(days=2))
        service.write(self.key, "fresh")
        self.assertEqual(service.expire(), 1)
        self.assertFalse(Channel.objects.filter(key=old).exists())
        self.assertFalse(Message.objects.filter(data="old news").exists())
        self.assertEqual(len(service.pull(self.key, 0)), 1)

    def test_expire_command(self):
        from io import StringIO

        from django.core.management import call_command

        Channel.objects.filter(key=self.key).update(created=datetime.datetime.now() - datetime.timedelta(hours=3))
        out = StringIO()
        call_command("expire_jpoll_channels", "--hours", "4", stdout=out)
        self.assertIn("Removed 0 channel(s).", out.getvalue())
        call_command("expire_jpoll_channels", "--hours", "2", stdout=out)
        self.assertIn("Removed 1 channel(s).", out.getvalue())
        self.assertFalse(Channel.objects.filter(key=self.key).exists())

    def test_expire_task_and_schedule(self):
        from django.conf import settings

        from jpoll.tasks import expire_channels

        Channel.objects.update(created=datetime.datetime.now() - datetime.timedelta(days=2))
        self.assertEqual(expire_channels.delay().get(), 1)
        self.assertIn("jpoll.expire_channels", {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()})


class JsonRpcTests(TestCase):
    def test_methods_are_registered(self):
        from jsonapi.registry import METHODS

        self.assertIs(METHODS["jpoll_pull_messages"], rpc.jpoll_pull_messages)
        self.assertIs(METHODS["jpoll_abort"], rpc.jpoll_abort)

    def test_pull_and_abort_over_the_json_endpoint(self):
        key = service.open_channel("alice")
        service.write(key, "hello")
        client = Client()
        body = json.dumps({"jsonrpc": "1.0", "method": "jpoll_pull_messages", "params": [key, "0"], "id": "t-1"})
        reply = client.post("/json/jpoll_pull_messages/t-1/", body, content_type="application/x-www-form-urlencoded")
        self.assertEqual(reply.status_code, 200)
        self.assertEqual([m["data"] for m in reply.json()["result"]], ["hello"])
        body = json.dumps({"jsonrpc": "1.0", "method": "jpoll_abort", "params": [key], "id": "t-2"})
        client.post("/json/", body, content_type="application/x-www-form-urlencoded")
        self.assertTrue(Channel.objects.get(key=key).aborted)

    def test_an_infinite_or_huge_since_id_is_a_clear_error(self):
        key = service.open_channel("alice")
        service.write(key, "hello")
        for since in ("Infinity", "-Infinity", "1e400", str(2**63), str(-2**64)):
            with self.subTest(since=since), self.assertNoLogs("jsonapi", "ERROR"):
                # Python's json reads Infinity and 1e400 as float('inf'), which json.dumps would not write.
                body = f'{{"jsonrpc": "1.0", "method": "jpoll_pull_messages", "params": ["{key}", {since}], "id": 1}}'
                reply = Client().post("/json/", body, content_type="application/x-www-form-urlencoded").json()
                self.assertIsNone(reply["result"])
                self.assertEqual(reply["error"]["message"], "OtherError: since_id must be a message id: an integer, "
                                                            "or -1 for every message.")
        self.assertEqual([m["data"] for m in service.pull(key, 2**63 - 1)], [])
        self.assertEqual([m["data"] for m in service.pull(key, -1)], ["hello"])

    def test_unknown_channel_error_the_client_recognises(self):
        body = json.dumps({"jsonrpc": "1.0", "method": "jpoll_pull_messages", "params": [str(uuid.uuid4()), "0"],
                           "id": "t-1"})
        error = Client().post("/json/", body, content_type="application/x-www-form-urlencoded").json()["error"]
        self.assertIn("Channel", error["message"])
        self.assertIn("not found", error["message"])


@FAST_PASSWORDS
class ViewTests(TestCase):
    def setUp(self):
        User.objects.create_user("alice", password="pw")
        self.client.login(username="alice", password="pw")

    def test_open_channel_returns_a_json_key_stored_in_the_session(self):
        for url in ("/jpoll/open_channel", "/jpoll/open_channel/"):
            response = self.client.get(url)
            self.assertEqual(response.status_code, 200)
            key = response.json()
            self.assertEqual(self.client.session[service.SESSION_KEY], key)
            self.assertTrue(Channel.objects.filter(key=key, user="alice").exists())

    def test_pull_messages_view(self):
        key = self.client.get("/jpoll/open_channel/").json()
        service.write(key, "a")
        service.write(key, "b")
        messages = self.client.get(f"/jpoll/pull_messages/{key}/-1/").json()
        self.assertEqual([m["data"] for m in messages], ["a", "b"])
        self.assertEqual(self.client.get(f"/jpoll/pull_messages/{key}/{messages[0]['id']}/").json()[0]["data"], "b")
        self.assertEqual(self.client.get(f"/jpoll/pull_messages/{uuid.uuid4()}/0/").status_code, 404)

    def test_views_need_login(self):
        anonymous = Client()
        key = service.open_channel()
        for url in ("/jpoll/open_channel/", f"/jpoll/pull_messages/{key}/0/", f"/monitor/{key}/"):
            with self.subTest(url=url):
                self.assertEqual(anonymous.get(url).status_code, 302)

    def test_monitor_page_follows_the_channel(self):
        key = service.open_channel("alice")
        response = self.client.get(f"/monitor/{key}/")
        self.assertContains(response, key)
        self.assertContains(response, 'id="jpoll_log"')
        self.assertEqual(self.client.session[service.SESSION_KEY], key)
        self.assertEqual(self.client.get(f"/monitor/{uuid.uuid4()}/").status_code, 404)
