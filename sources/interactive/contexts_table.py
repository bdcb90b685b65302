"""What a context holds: references by instrument and type, or an rmap's match cases."""

from __future__ import annotations

from dataclasses import dataclass, field

from crds.core import config as crds_config
from crds.core import rmap

from interactive import cache, catalog, storage


class TableError(ValueError):
    """A mapping that cannot be tabulated."""


@dataclass
class TypeRow:
    filekind: str
    rmap: str  # "" when the instrument marks the type N/A
    description: str
    references: list[str] = field(default_factory=list)


@dataclass
class InstrumentRows:
    instrument: str
    imap: str
    types: list[TypeRow]

    @property
    def reference_count(self) -> int:
        return sum(len(t.references) for t in self.types)


def _load(name: str):
    storage.check_filename(name)
    record = catalog.get_record(name)
    if record.type != "mapping" or record.state in ("uploaded", "cancelled"):
        raise TableError(f"'{name}' is not a cataloged mapping.")
    if not storage.cache_path(name).exists():
        raise TableError(f"Mapping '{name}' is cataloged but not in the server's file cache.")
    return rmap.get_cached_mapping(name)


def _instrument_rows(instrument: str, imap) -> InstrumentRows:
    types = []
    for filekind, selected in sorted(imap.selections.items()):
        if isinstance(selected, str):
            types.append(TypeRow(filekind, "", selected))
            continue
        refs = sorted(r for r in set(selected.reference_names()) if crds_config.is_reference(r))
        types.append(TypeRow(filekind, selected.basename, selected.header.get("text_descr", "")
                             or getattr(selected, "text_descr", ""), refs))
    return InstrumentRows(instrument, imap.basename, types)


def by_instrument(name: str) -> list[InstrumentRows]:
    """The references of a pmap or imap grouped by instrument and type (cached per catalog generation)."""
    def build() -> list[InstrumentRows]:
        mapping = _load(name)
        if name.endswith(".pmap"):
            return [_instrument_rows(instr, imap) for instr, imap in sorted(mapping.selections.items())
                    if not isinstance(imap, str)]
        if name.endswith(".imap"):
            return [_instrument_rows(mapping.instrument, mapping)]
        raise TableError(f"'{name}' is not a pipeline or instrument context.")
    return cache.cached(f"context-table:{name}", build)


def rmap_table(name: str) -> dict:
    """An rmap's header, matching parameters and match cases."""
    def build() -> dict:
        mapping = _load(name)
        if not name.endswith(".rmap"):
            raise TableError(f"'{name}' is not a reference mapping (.rmap).")
        data = mapping.todict()
        header = {k: str(v) for k, v in sorted(data["header"].items())}
        return {"header": header, "parameters": list(data["parameters"]),
                "rows": [list(map(str, row)) for row in data["selections"]]}
    return cache.cached(f"rmap-table:{name}", build)
