"""Fixtures of the jsonapi tests: a JSON-RPC caller over Django's test client."""

from __future__ import annotations

import html
import json

import pytest


class Caller:
    """Posts JSON-RPC calls the way the crds client does: raw JSON, form-encoded Content-Type."""

    def __init__(self, client):
        self.client = client

    def raw(self, body: bytes | str, path: str = "/json/", **extra):
        response = self.client.generic("POST", path, body, content_type="application/x-www-form-urlencoded",
                                       **extra)
        assert response.status_code == 200, response.content[:500]
        envelope = json.loads(response.content)
        assert "error" in envelope and "result" in envelope, envelope
        return envelope

    def envelope(self, method: str, *params, path: str | None = None):
        body = json.dumps({"jsonrpc": "1.0", "method": method, "params": list(params), "id": "test-1"})
        return self.raw(body, path or f"/json/{method}/test-1/")

    def __call__(self, method: str, *params):
        """The result of a successful call."""
        envelope = self.envelope(method, *params)
        assert envelope["error"] is None, envelope["error"]
        return envelope["result"]

    def error(self, method: str, *params) -> str:
        """The message of a failed call, HTML-unescaped as the client does."""
        envelope = self.envelope(method, *params)
        assert envelope["error"] is not None, f"{method}{params} succeeded: {str(envelope['result'])[:300]}"
        assert envelope["result"] is None
        return html.unescape(envelope["error"]["message"])


@pytest.fixture
def rpc(client, db):
    from interactive import cache

    cache.invalidate()
    return Caller(client)
