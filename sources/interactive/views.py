"""Pages of the interactive site."""

from django.conf import settings
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from interactive import contexts
from interactive.instruments import instruments


@never_cache
def index(request):
    """Home page: the observatory, its operational and edit contexts, its instruments."""
    pointers = contexts.pointers()
    return render(request, "interactive/index.html", {
        "latest_context": pointers["latest"],
        "edit_context": pointers["edit"],
        "instruments": instruments(),
        "history": contexts.public_history()[:4],
        "observatory": settings.CRDS_OBSERVATORY,
    })
