"""Read-only pages: past computations with per-type counts, progress, and id-list downloads."""

from __future__ import annotations

import gzip

from django.db.models import Sum
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from reprocessing import compute
from reprocessing.models import CHUNK_DONE, Computation


def progress_of(comp: Computation) -> dict:
    done = comp.chunks.filter(state=CHUNK_DONE)
    processed = done.aggregate(n=Sum("processed"))["n"] or 0
    return {"id": comp.id, "state": comp.state, "status": comp.status_word, "chunks_done": done.count(),
            "total_chunks": comp.total_chunks, "datasets_done": processed, "total_datasets": comp.total_datasets,
            "percent": round(100.0 * processed / comp.total_datasets, 1) if comp.total_datasets else 100.0,
            "affected": comp.affected_count, "message": comp.message}


@require_GET
def computations(request):
    rows = []
    for comp in Computation.objects.all()[:100]:
        bars = [(instrument, kind, n) for instrument, per in sorted(comp.counts.items())
                for kind, n in sorted(per.items())]
        top = max([n for *_rest, n in bars] or [1])
        rows.append({"comp": comp, "progress": progress_of(comp),
                     "bars": [(i, k, n, max(1, round(100 * n / top))) for i, k, n in bars]})
    return render(request, "reprocessing/computations.html", {"rows": rows})


@require_GET
def progress(request, computation_id: int):
    return JsonResponse(progress_of(get_object_or_404(Computation, id=computation_id)))


@require_GET
def affected_ids(request, computation_id: int):
    comp = get_object_or_404(Computation, id=computation_id)
    path = compute.reprocessing_dir() / comp.directory / "affected_ids.txt.gz"
    if not comp.directory or not path.is_file():
        raise Http404("This computation has no result yet.")
    with gzip.open(path, "rb") as handle:
        response = HttpResponse(handle.read(), content_type="text/plain")
    response["Content-Disposition"] = f'attachment; filename="affected_ids_{comp.directory[-9:]}.txt"'
    return response
