"""The JSON-RPC endpoint: one dispatcher for POST /json/ and any /json/<anything>.

The crds client posts raw JSON labelled application/x-www-form-urlencoded,
without cookies or CSRF token, and reads `error` from every answer; any
non-200 status loses the server's message.  So the body is read here as JSON
whatever its Content-Type (request.POST is never touched), the view is
CSRF-exempt, and every outcome, even an oversized or unparseable body, is a
JSON-RPC envelope with HTTP 200.  Messages are HTML-escaped and never carry
tracebacks or server paths.
"""

from __future__ import annotations

import functools
import html
import inspect
import json
import logging
import types
import typing
from typing import Any

from django.conf import settings
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from interactive import catalog, contexts, storage

from jsonapi import registry

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 64 * 1024 * 1024
READ_CHUNK = 1024 * 1024

# Service errors whose messages are written for the caller.
CALLER_ERRORS = (registry.RpcError, contexts.ContextError, catalog.UnknownFile, storage.BadName)

_JSON_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
               list: "a list", dict: "an object", type(None): "null"}


class BadRequest(Exception):
    """The envelope itself is wrong; reported as an InvalidRequestError."""


def max_body() -> int:
    return int(getattr(settings, "CRDS_JSONRPC_MAX_BYTES", DEFAULT_MAX_BODY))


@csrf_exempt
def dispatch(request) -> HttpResponse:
    """Answer a JSON-RPC call; a GET shows the method list."""
    if request.method in ("GET", "HEAD"):
        return method_list(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    request_id = None
    try:
        call = _parse(_read_body(request))
        request_id = call.get("id")
        method, params = _method_and_params(call)
        request.rpc_method = call["method"]  # for the request statistics
        token = registry._REQUEST.set(request)
        try:
            result = method(*params)
        finally:
            registry._REQUEST.reset(token)
    except BadRequest as exc:
        return _envelope(request_id, error=("InvalidRequestError", str(exc)))
    except CALLER_ERRORS as exc:
        return _envelope(request_id, error=(getattr(exc, "name", None) or type(exc).__name__, str(exc)))
    except Exception:
        log.exception("JSON-RPC internal error")
        return _envelope(request_id, error=("InternalError",
                                            "Internal server error; the server log has the details."))
    return _envelope(request_id, result=result)


def _read_body(request) -> bytes:
    """The raw body, refused (not read) beyond the size limit."""
    limit = max_body()
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise BadRequest(f"Request body of {declared} bytes is larger than the limit of {limit} bytes.")
    chunks, total = [], 0
    while True:
        chunk = request.read(READ_CHUNK)
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise BadRequest(f"Request body is larger than the limit of {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(body: bytes) -> dict:
    try:
        call = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("The request body is not valid JSON (UTF-8); send a JSON-RPC 1.0 object "
                         'such as {"method": "get_server_info", "params": [], "id": 1}.') from None
    except RecursionError:
        raise BadRequest("The request body nests JSON arrays or objects too deeply to read.") from None
    if not isinstance(call, dict):
        raise BadRequest("The request body must be a JSON object with 'method', 'params' and 'id'.")
    return call


def _method_and_params(call: dict) -> tuple[Any, list]:
    name = call.get("method")
    if not isinstance(name, str) or not name:
        raise BadRequest("The request has no 'method' string.")
    method = registry.METHODS.get(name)
    if method is None:
        raise BadRequest(f"Unknown method '{name[:80]}'.")
    params = call.get("params", [])
    names = parameter_names(method)
    if params is None:
        params = []
    if isinstance(params, dict):
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise BadRequest(f"Unknown parameter '{str(unknown[0])[:40]}' for {name}({', '.join(names)}).")
        params = [params.get(p) for p in names]
    if not isinstance(params, list):
        raise BadRequest("'params' must be a list of positional parameters.")
    if len(params) > len(names):
        raise BadRequest(f"{name}({', '.join(names)}) takes {len(names)} parameters, got {len(params)}.")
    params = params + [None] * (len(names) - len(params))
    hints = _hints(method)
    for pname, value in zip(names, params, strict=True):
        allowed = _allowed_types(hints.get(pname))
        if allowed is not None and not _is_instance(value, allowed):
            wanted = " or ".join(_JSON_NAMES.get(t, t.__name__) for t in allowed)
            got = _JSON_NAMES.get(type(value), type(value).__name__)
            raise BadRequest(f"Parameter '{pname}' of {name} must be {wanted}, not {got}.")
    return method, params


@functools.cache
def parameter_names(method) -> tuple[str, ...]:
    return tuple(p.name for p in inspect.signature(method).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


@functools.cache
def _hints(method) -> dict[str, Any]:
    try:
        return typing.get_type_hints(method)
    except Exception:
        return {}


def _allowed_types(hint) -> tuple[type, ...] | None:
    """The JSON types a parameter annotation admits, or None to admit anything."""
    if hint is None or hint is Any:
        return None
    if hint is type(None):
        return (type(None),)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        found: tuple[type, ...] = ()
        for arg in typing.get_args(hint):
            sub = _allowed_types(arg)
            if sub is None:
                return None
            found += sub
        return found
    base = origin or hint
    if base in (list, tuple) or (inspect.isclass(base) and issubclass(base, typing.Sequence) and base is not str):
        return (list,)
    if base is dict or (inspect.isclass(base) and issubclass(base, typing.Mapping)):
        return (dict,)
    if base is float:
        return (float, int)
    if base in (str, int, bool):
        return (base,)
    return None


def _is_instance(value, allowed: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in allowed:
        return False
    return isinstance(value, allowed)


def _envelope(request_id, result=None, error: tuple[str, str] | None = None) -> HttpResponse:
    body = {"jsonrpc": "1.0", "id": request_id if _is_plain_id(request_id) else None,
            "result": None if error else result, "error": None}
    if error:
        name, message = error
        body["error"] = {"name": name, "code": 500, "data": None,
                         "message": html.escape(f"{name}: {contexts.strip_paths(message)}")}
    try:
        text = json.dumps(body)
    except (TypeError, ValueError):
        log.exception("JSON-RPC result is not JSON")
        return _envelope(request_id, error=("InternalError", "Internal server error; the server log has the details."))
    return HttpResponse(text, content_type="application/json-rpc")


def _is_plain_id(value) -> bool:
    return value is None or (isinstance(value, (str, int)) and len(str(value)) <= 256)


def method_list(request) -> HttpResponse:
    """A readable list of the methods, from the registry itself."""
    methods = []
    for name in sorted(registry.METHODS):
        func = registry.METHODS[name]
        doc = inspect.getdoc(func) or ""
        methods.append({"name": name, "params": ", ".join(parameter_names(func)),
                        "summary": doc.split("\n\n")[0].replace("\n", " ")})
    return render(request, "jsonapi/methods.html", {"methods": methods})
