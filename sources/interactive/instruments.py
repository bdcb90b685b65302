"""The observatory's instruments and reference types, as the crds library knows them."""

from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=None)
def instruments() -> tuple[str, ...]:
    from crds.core import utils

    return tuple(sorted(utils.get_locator_module(settings.CRDS_OBSERVATORY).INSTRUMENTS))
