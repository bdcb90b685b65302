"""The JSON-RPC method table.

Any app may publish methods: define them in `<app>/rpc.py` with the
`@rpc_method` decorator; the jsonapi app imports every installed app's `rpc`
module at start-up.  Methods take positional parameters exactly as the crds
client sends them and raise RpcError (or a subclass) for anything a caller
did wrong; the message is what the user reads.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

METHODS: dict[str, Callable] = {}


class RpcError(Exception):
    """An error reported to the caller as a JSON-RPC error object.

    `name` becomes the error's `name` and message prefix, e.g.
    "UnknownContextError: Unknown context 'hst_9999.pmap'".
    """

    name = "OtherError"


def rpc_method(func: Callable | None = None, *, name: str | None = None):
    """Register `func` as the JSON-RPC method `name` (default: the function's name)."""

    def register(f: Callable) -> Callable:
        METHODS[name or f.__name__] = f
        return f

    return register(func) if func is not None else register


_REQUEST: ContextVar = ContextVar("jsonrpc_request", default=None)


def current_request():
    """The HTTP request of the JSON-RPC call being served (None outside one).

    Methods that return URLs use it, so a server reached on another port or
    prefix sends clients back to itself.
    """
    return _REQUEST.get()
