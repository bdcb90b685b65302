"""A real local SMTP server (aiosmtpd) collecting the mail the server sends, for e-mail tests."""

from __future__ import annotations

import email
import email.policy
import logging
import socket
import threading
import time
from email.message import Message

from aiosmtpd.controller import Controller
from django.test.utils import override_settings

STATUS = ["crds-status@example.org"]
logging.getLogger("mail.log").setLevel(logging.WARNING)
CONFIRM = ["crds-confirm@example.org"]


class _Collector:
    def __init__(self):
        self.messages: list[tuple[list[str], Message]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSinkMixin:
    """TestCase mixin: an SMTP sink on a free loopback port, and settings that send mail to it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.collector = _Collector()
        cls.smtp = Controller(cls.collector, hostname="127.0.0.1", port=_free_port())
        cls.smtp.start()
        cls._mail_settings = override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=cls.smtp.port, CRDS_STATUS_TO_ADDRESSES=STATUS, CRDS_STATUS_CONFIRM_ADDRESSES=CONFIRM)
        cls._mail_settings.enable()

    @classmethod
    def tearDownClass(cls):
        cls._mail_settings.disable()
        cls.smtp.stop()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        with self.collector.lock:
            self.collector.messages.clear()

    def sent(self, wait: float = 5.0) -> list[tuple[list[str], Message]]:
        """Messages received so far (waiting briefly for the first one)."""
        deadline = time.monotonic() + wait
        while not self.collector.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        with self.collector.lock:
            return list(self.collector.messages)
