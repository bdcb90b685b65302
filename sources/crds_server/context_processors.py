"""Values every template may use."""

from django.conf import settings


def site(request) -> dict:
    return {
        "observatory": settings.CRDS_OBSERVATORY,
        "usecase": settings.CRDS_USECASE,
        "url_prefix": settings.CRDS_URL_PREFIX,
    }
