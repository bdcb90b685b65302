"""The web cache (memcached in production): clear it, and prime what every client asks for first."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from interactive import cache as catalog_cache
from jsonapi import server_info


def clear(prime: bool = False, dry_run: bool = False) -> str:
    backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    location = settings.CACHES["default"].get("LOCATION", "this process")
    if dry_run:
        return f"would clear the {backend} cache at {location}" + (" and prime it" if prime else "")
    cache.clear()
    catalog_cache.invalidate()
    line = f"cleared the {backend} cache at {location}"
    if prime:
        info = server_info.catalog_info()
        server_info.distributable_names("mapping")
        line += f"; primed server info ({len(info['mappings'])} mappings)"
    if backend == "LocMemCache":
        line += " (a local-memory cache lives in each server process: restart the server to clear it there)"
    return line
