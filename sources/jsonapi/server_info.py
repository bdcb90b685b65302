"""The server information every client command starts from (crds-protocol.md §4.1).

The catalog-derived part (mapping list, bad files, history, download
metadata of ~44,000 files) is built once per catalog generation and shared
through the Django cache; each worker also keeps the last one in memory, so a
warm request costs a cache lookup of the generation token.  Download URLs are
added per request from the request's own scheme, host, port and prefix, and
`last_synced` is the time of each response.
"""

from __future__ import annotations

import datetime
import pprint
from typing import Any

import crds
from crds.client import proxy
from django.conf import settings
from django.urls import reverse
from interactive import cache, catalog, contexts

MAX_HEADERS_PER_RPC = 1000
MAX_BESTREFS_PER_RPC = 1000
URL_KINDS = {"mapping_url": "mappings", "reference_url": "references", "config_url": "config"}

_memo: tuple[str, dict[str, Any]] = ("", {})


def now_text() -> str:
    return str(datetime.datetime.now())


def _history() -> list[list[str]]:
    return [[str(row.start_date), row.context, row.description] for row in contexts.public_history()]


def build_catalog_info() -> dict[str, Any]:
    """The URL-independent part of server info, straight from the catalog."""
    pointers = contexts.pointers()
    rows = catalog.distributable().values_list("name", "type", "size", "sha1sum")
    mappings, metadata = [], {}
    for name, kind, size, sha1sum in rows.iterator(chunk_size=5000):
        metadata[name] = {"size": str(size), "sha1sum": str(sha1sum).lower()}
        if kind == "mapping":
            mappings.append(name)
    bad_files = sorted(catalog.cataloged().filter(rejected=True).values_list("name", flat=True))
    refreshed = now_text()
    return {
        "observatory": settings.CRDS_OBSERVATORY,
        "latest_context": pointers["latest"],
        "operational_context": pointers["latest"],
        "edit_context": pointers["edit"],
        "versions_context": pointers["versions"],
        "build_context": pointers["build"] or pointers["latest"],
        "mappings": sorted(mappings),
        "bad_files_list": bad_files,
        "context_history": _history(),
        "download_metadata": proxy.crds_encode(metadata),
        "force_remote_mode": 0,
        "max_headers_per_rpc": MAX_HEADERS_PER_RPC,
        "max_bestrefs_per_rpc": MAX_BESTREFS_PER_RPC,
        "crds_version": {"str": crds.__version__},
        "last_refreshed": refreshed,
        "updated": refreshed,
    }


def catalog_info() -> dict[str, Any]:
    """build_catalog_info() for the current catalog generation, memoised per worker."""
    global _memo
    generation = cache.generation()
    memo = _memo
    if memo[0] != generation:
        memo = _memo = (generation, cache.cached("server-info", build_catalog_info))
    return memo[1]


def download_urls(request) -> dict[str, dict[str, str]]:
    """The download prefixes, as this request reached the server."""
    obs = settings.CRDS_OBSERVATORY
    urls = {}
    for key, kind in URL_KINDS.items():
        path = reverse("unchecked-get-dir", args=(kind, obs))
        url = request.build_absolute_uri(path) if request is not None else settings.CRDS_PUBLIC_URL + path
        urls[key] = {obs: url}
    return urls


def server_info(request) -> dict[str, Any]:
    """The full get_server_info() answer for `request`."""
    info = dict(catalog_info())
    info.update(download_urls(request))
    info["last_synced"] = now_text()
    return info


def server_config_text(request) -> str:
    """server_config as the client writes and reads it: a Python-literal dict."""
    return pprint.pformat(server_info(request)) + "\n"


def bad_files_text() -> str:
    return "".join(name + "\n" for name in catalog_info()["bad_files_list"])


def distributable_names(kind: str) -> list[str]:
    """Sorted names of distributable mappings or references, per catalog generation."""
    def build() -> list[str]:
        return sorted(catalog.distributable().filter(type=kind).values_list("name", flat=True))

    return cache.cached(f"names-{kind}", build)
