"""JSON-RPC methods of the interactive app (crds-protocol.md §4.7)."""

from __future__ import annotations

from jsonapi.registry import RpcError, rpc_method

from interactive import contexts, delivery


@rpc_method
def get_delivery_status(since: str | None) -> list:
    """Deliveries to the archive since a date (all when null), newest first, without the submitter."""
    when = None
    if since:
        try:
            when = contexts.parse_spec_date(str(since))
        except contexts.ContextError as exc:
            raise RpcError(str(exc)) from None
    return [{"date": row.date.strftime("%Y-%m-%d %H:%M:%S"), "kind": row.kind, "status": row.status,
             "catalog": row.catalog, "description": row.description, "files": row.files}
            for row in delivery.deliveries(when)]
