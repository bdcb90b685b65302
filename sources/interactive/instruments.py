"""The observatory's instruments and reference types, as the crds library knows them."""

from functools import cache

from django.conf import settings


@cache
def instruments() -> tuple[str, ...]:
    from crds.core import utils

    return tuple(sorted(utils.get_locator_module(settings.CRDS_OBSERVATORY).INSTRUMENTS))
