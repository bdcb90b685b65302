"""The JSON-RPC methods the crds client calls (crds-protocol.md §4).

Parameters are positional, exactly as the client sends them; their type
annotations are checked by the dispatcher before the call (None means a
missing or null parameter).  The dataset methods live in reprocessing/rpc.py,
the jpoll methods in jpoll/rpc.py and get_delivery_status in interactive/rpc.py.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from interactive import contexts
from interactive.contexts import check_observatory

from jsonapi import server_info, services
from jsonapi.registry import RpcError, current_request, rpc_method


@rpc_method
def get_server_info() -> dict:
    """Contexts, mapping list, bad files, download URLs and metadata: what every client command starts from."""
    return server_info.server_info(current_request())


@rpc_method
def get_default_context(observatory: str | None, state: str | None) -> str:
    """The pmap a context pointer names: state latest (default), operational, edit, versions or build."""
    check_observatory(observatory)
    return services.default_context(state)


@rpc_method
def get_build_context(observatory: str | None, calver: str | None) -> str:
    """The context registered for a calibration software version (else its nearest earlier patch)."""
    check_observatory(observatory)
    return services.build_context(calver)


@rpc_method
def get_context_by_date(date: str, observatory: str | None) -> str:
    """Resolve any context specification (date, <obs>-<tag>, instrument and type levels) to a mapping name."""
    check_observatory(observatory)
    return contexts.resolve_context_spec(date)


@rpc_method
def get_context_history(observatory: str | None) -> list:
    """The latest-context history, newest first: [start_date, context, description]."""
    check_observatory(observatory)
    return services.context_history()


@rpc_method
def get_mapping_names(context: str | list) -> list:
    """Every mapping in the closure of a context (or a list of contexts), itself included, sorted."""
    return services.mapping_names(context)


@rpc_method
def get_reference_names(context: str | list) -> list:
    """Every reference file named by a context's rules, sorted."""
    return services.reference_names(context)


@rpc_method
def list_mappings(observatory: str | None, glob_pattern: str | None) -> list:
    """Distributable mappings whose names match a glob pattern, sorted."""
    check_observatory(observatory)
    return services.list_names("mapping", glob_pattern)


@rpc_method
def list_references(observatory: str | None, glob_pattern: str | None) -> list:
    """Distributable references whose names match a glob pattern, sorted."""
    check_observatory(observatory)
    return services.list_names("reference", glob_pattern)


@rpc_method
def get_file_info(observatory_or_context: str | None, filename: str) -> dict:
    """The catalog record of one distributable file, as lower-case strings."""
    _observatory_or_context(observatory_or_context)
    from interactive import catalog

    return catalog.file_info(services.distributable_record(filename))


@rpc_method
def get_file_info_map(observatory: str | None, files: list | None, fields: list | None) -> dict:
    """{name: {field: value} or "NOT FOUND"} for the named files (null = every cataloged file)."""
    check_observatory(observatory)
    return services.file_info_map(files, fields)


@rpc_method
def get_required_parkeys(context: str) -> Any:
    """The matching keywords of a context: {instrument: [...]} for a pmap, a list for an imap or rmap."""
    return services.required_parkeys(context)


@rpc_method
def get_best_references(context: str, header: dict, reftypes: list | None) -> dict:
    """Best references for one header, as a local client computes them (NOT FOUND n/a for N/A types)."""
    pmap = services.require_pmap(context)
    return services.best_references(pmap, services.check_header(header), services.check_reftypes(reftypes))


@rpc_method
def get_best_references_by_header_map(context: str, header_map: dict, reftypes: list | None) -> dict:
    """Best references for many headers: {id: [true, {type: file}] or [false, "FAILED: ..."]}."""
    return services.best_references_by_header_map(context, header_map, reftypes)


@rpc_method
def get_system_versions(master_version: str, context: str | None) -> Any:
    """The calibration software versions (CALVER reference content) for a master version."""
    return services.system_versions(master_version, context)


@rpc_method
def push_remote_context(observatory: str | None, kind: str, key: str, context: str) -> None:
    """A registered remote cache reports the context it holds (authenticated by its key)."""
    check_observatory(observatory)
    return services.push_remote_context(kind, key, context)


@rpc_method
def get_remote_context(observatory: str | None, pipeline_name: str) -> str:
    """The context last pushed by the named remote cache."""
    check_observatory(observatory)
    return services.get_remote_context(pipeline_name)


@rpc_method
def get_sqlite_db(observatory: str | None) -> str:
    """base64(zlib(SQLite database)) with the catalog and context history tables."""
    check_observatory(observatory)
    return services.sqlite_db()


@rpc_method
def file_exists(filename: str) -> bool:
    """True if the file is cataloged and distributable (legacy)."""
    services.distributable_record(filename)
    return True


@rpc_method
def get_url(context: str, filename: str) -> str:
    """Brokered download URL of a file known to CRDS (legacy)."""
    return _download_url(context, filename, None)


@rpc_method
def get_mapping_url(context: str, mapping: str) -> str:
    """Brokered download URL of a mapping (legacy; is_known_mapping() still calls it)."""
    return _download_url(context, mapping, "mapping")


@rpc_method
def get_reference_url(context: str, reference: str) -> str:
    """Brokered download URL of a reference file (legacy)."""
    return _download_url(context, reference, "reference")


def _observatory_or_context(value: str | None) -> None:
    """Accept the observatory itself or any context specification of this server."""
    if value is None or not any(mark in value for mark in ".-"):
        check_observatory(value)
    else:
        services.resolve_mapping(value)


def _download_url(context: str, filename: str, kind: str | None) -> str:
    services.resolve_mapping(context)
    record = services.distributable_record(filename)
    if kind and record.type != kind:
        raise RpcError(f"File '{filename}' is not a {kind}.")
    path = reverse("crds-get", args=(filename,))
    request = current_request()
    return request.build_absolute_uri(path) if request is not None else path
