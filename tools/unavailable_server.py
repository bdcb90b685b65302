"""The "temporarily unavailable" answer on a server's normal port while it runs on its backup port.

Started by `./run --backup-port` (PID file $CRDS/server/run/unavailable.pid), stopped by `./run`
and `./stop`.  Every request gets HTTP 503 with a Retry-After header: a short page for people and,
for POST to the JSON-RPC URL, a JSON-RPC error whose message the `crds` client shows (it reports the
HTTP reason phrase, which carries the same words).
"""

from __future__ import annotations

import argparse
import html
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1_000_000


def make_handler(name: str, retry_after: int, json_path: str) -> type[BaseHTTPRequestHandler]:
    message = f"{name} is temporarily unavailable for maintenance; retry in {retry_after} s"
    page = (f"<!DOCTYPE html>\n<html><head><title>{html.escape(name)}: temporarily unavailable</title></head>\n"
            f"<body><h1>Temporarily unavailable</h1>\n<p>{html.escape(message)}.</p></body></html>\n").encode()

    class Unavailable(BaseHTTPRequestHandler):
        server_version = "CRDS-maintenance"
        sys_version = ""

        def _answer(self, body: bytes, content_type: str, reason: str = "Service Unavailable") -> None:
            self.send_response(503, reason)
            self.send_header("Retry-After", str(retry_after))
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _rpc_id(self) -> object:
            """The request's JSON-RPC id, when its body is a JSON object carrying one."""
            length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
            try:
                request = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                return None
            return request.get("id") if isinstance(request, dict) else None

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._answer(page, "text/html; charset=utf-8")

        do_HEAD = do_GET  # noqa: N815
        do_PUT = do_DELETE = do_GET  # noqa: N815

        def do_POST(self) -> None:  # noqa: N802
            if not self.path.split("?")[0].startswith(json_path):
                self._answer(page, "text/html; charset=utf-8")
                return
            body = {"jsonrpc": "1.0", "id": self._rpc_id(), "result": None,
                    "error": {"code": 503, "name": "ServiceUnavailable", "message": message}}
            self._answer(json.dumps(body).encode(), "application/json", f"Service Unavailable: {message}")

    return Unavailable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", required=True, help="the server's name in the answer, e.g. 'CRDS hst ops'")
    parser.add_argument("--retry-after", type=int, default=300, help="seconds, for the Retry-After header")
    parser.add_argument("--json-path", default="/json/", help="the JSON-RPC URL path (with the URL prefix)")
    args = parser.parse_args()
    handler = make_handler(args.name, args.retry_after, args.json_path)
    server = ThreadingHTTPServer((args.host, args.port), handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
