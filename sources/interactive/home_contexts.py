"""Home-page context panels: the build-context banner and the remote caches (server-behaviour.md §4.1, §4.5)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from interactive.models import BuildContext, RemoteContext


@dataclass(frozen=True)
class RemoteRow:
    name: str
    server_context: str  # the server's latest context, which the cache should hold
    pushed_context: str  # what the cache last echoed; "" before its first push

    @property
    def synced(self) -> bool:
        return bool(self.pushed_context) and self.pushed_context == self.server_context


def remote_rows(latest: str) -> list[RemoteRow]:
    """One row per registered remote cache of this observatory, by name."""
    remotes = RemoteContext.objects.filter(observatory=settings.CRDS_OBSERVATORY).order_by("name")
    return [RemoteRow(name, latest, pushed) for name, pushed in remotes.values_list("name", "context")]


def build_cal_ver(build: str) -> str:
    """The calibration software version the build context was set for; "" when none is recorded."""
    if not build:
        return ""
    newest = BuildContext.objects.filter(context=build).order_by("-created", "-id").first()
    return newest.cal_ver if newest else ""
