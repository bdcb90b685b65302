"""JSON-RPC methods of the dataset catalog and affected-datasets results (crds-protocol.md §4.4–4.5)."""

from __future__ import annotations

from interactive import contexts
from jsonapi import services
from jsonapi.registry import RpcError, rpc_method
from jsonapi.server_info import MAX_BESTREFS_PER_RPC, MAX_HEADERS_PER_RPC

from reprocessing import compute, results
from reprocessing.sources import BadDatasetId, get_source, normalize_id, normalize_since


class InvalidDatasetIds(RpcError):
    name = "InvalidDatasetIds"


class InvalidContext(RpcError):
    name = "UnknownContextError"


class BadParameter(RpcError):
    name = "InvalidParameter"


class NoPrecomputedResults(RpcError):
    name = "NoPrecomputedResults"


def _ids(dataset_ids, limit: int) -> list[str]:
    if not isinstance(dataset_ids, list):
        raise InvalidDatasetIds("dataset_ids must be a list of dataset id strings.")
    if len(dataset_ids) > limit:
        raise InvalidDatasetIds(f"Too many dataset ids ({len(dataset_ids)}): at most {limit} per call.")
    try:
        return [normalize_id(i) for i in dataset_ids]
    except BadDatasetId as exc:
        raise InvalidDatasetIds(str(exc)) from None


def _since(datasets_since) -> str:
    try:
        return normalize_since(datasets_since)
    except ValueError as exc:
        raise BadParameter(str(exc)) from None


def _instrument(instrument) -> str:
    from reprocessing.loader import instruments

    name = str(instrument or "").lower()
    if name not in instruments():
        raise BadParameter(f"Unknown instrument {str(instrument)[:40]!r}: "
                           f"use one of {', '.join(sorted(instruments()))}.")
    return name


def _headers(ids: list[str], since: str = "1900-01-01 00:00:00") -> dict:
    return get_source().headers(ids, since)


def _members(requested: str, headers: dict) -> list[str]:
    """The compound ids of `headers` that a requested id names: itself, or the association it is part of."""
    return sorted(k for k in headers if k == requested or (":" not in requested and requested in k.split(":")))


def _header_of(requested: str, headers: dict) -> dict | str:
    """The header answering for `requested`: an association's first member (as the original), or the error."""
    members = _members(requested, headers)
    if not members:
        return f"FAILED: unable to obtain matching parameters for {requested!r}."
    return headers[members[0]]


@rpc_method
def get_dataset_ids(context, instrument, datasets_since=None) -> list[str]:
    services.require_pmap(context)
    return get_source().dataset_ids(_instrument(instrument), _since(datasets_since))


@rpc_method
def get_dataset_headers_by_id(context, dataset_ids, datasets_since=None) -> dict:
    services.require_pmap(context)
    return _headers(_ids(dataset_ids, MAX_HEADERS_PER_RPC), _since(datasets_since))


@rpc_method
def get_best_references_by_ids(context, dataset_ids, reftypes=None, include_headers=False) -> dict:
    context = services.require_pmap(context)
    ids = _ids(dataset_ids, MAX_BESTREFS_PER_RPC)
    if reftypes is not None and not isinstance(reftypes, list):
        raise BadParameter("reftypes must be null or a list of reference type names.")
    services.check_reftypes(reftypes)
    include = str(include_headers).lower() == "true"
    found = _headers(ids)
    headers = {requested: _header_of(requested, found) for requested in ids}  # keyed by the ids asked for
    result: dict = {}
    for dataset_id, header in headers.items():
        if not isinstance(header, dict):
            result[dataset_id] = [False, str(header)]
            continue
        try:
            result[dataset_id] = [True, services.best_references(context, header, services.check_reftypes(reftypes))]
        except Exception as exc:
            result[dataset_id] = [False, f"FAILED: {exc}"]
    if include:
        result["headers"] = {k: v for k, v in headers.items() if isinstance(v, dict)}
    return result


@rpc_method
def get_aui_best_references(date, dataset_ids) -> dict:
    """{id: [True, [files]]}: every reference assigned, N/A and failed types dropped."""
    context = services.require_pmap(date)
    ids = _ids(dataset_ids, MAX_BESTREFS_PER_RPC)
    headers = _headers(ids)
    result: dict = {}
    for requested in ids:
        found = {k: headers[k] for k in _members(requested, headers) if isinstance(headers[k], dict)}
        if not found:
            result[requested] = [False, f"NOT FOUND dataset {requested!r} is not in the dataset catalog"]
            continue
        files: set[str] = set()
        try:
            for header in found.values():
                refs = services.best_references(context, header, None).values()
                files |= {v for v in refs if not str(v).startswith("NOT FOUND")}
        except Exception as exc:
            result[requested] = [False, f"NOT FOUND {exc}"]
            continue
        result[requested] = [True, sorted(files)]
    return result


@rpc_method
def get_affected_datasets(observatory, old_context=None, new_context=None) -> dict:
    contexts.check_observatory(observatory)  # null means this server's observatory
    for name in (old_context, new_context):
        if name is not None and not str(name).endswith(".pmap"):
            raise InvalidContext(f"Invalid context {str(name)[:80]!r}: give a pipeline mapping (.pmap) or null.")
    try:
        return results.affected_datasets(old_context, new_context)
    except compute.ComputationError as exc:
        raise InvalidContext(str(exc)) from None
    except results.NoResults as exc:
        raise NoPrecomputedResults(str(exc)) from None
