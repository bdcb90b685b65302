"""Realistic synthetic datasets made from the rules themselves.

For an instrument, a pool of observing modes is built by walking the
instrument's rmaps in random order and choosing, for each, one of its match
cases consistent with the values chosen so far; any required parameter still
open is drawn from the rmap's valid values.  Each dataset then takes a mode
and an observation date drawn near one of the USEAFTER dates of the chosen
cases, so dates follow the instrument's reference history.
"""

from __future__ import annotations

import datetime
import random
import string
from collections.abc import Iterator

import crds

HST_ID_PREFIX = {"acs": "j", "wfc3": "i", "stis": "o", "cos": "l", "nicmos": "n", "wfpc2": "u", "synphot": "s"}
ALPHABET = string.ascii_lowercase + string.digits


def _is_free(value: str) -> bool:
    """A match value that does not constrain a header (wildcard, N/A, range, expression)."""
    text = str(value)
    return text in ("*", "N/A", "") or text.startswith(("between", "(", "#")) or any(c in text for c in "<>=")


def _alternatives(value) -> list[str]:
    return [v.strip() for v in str(value).split("|") if v.strip()]


def _consistent(keys: tuple, values: tuple, mode: dict) -> bool:
    for key, value in zip(keys, values, strict=False):
        if key in mode and not _is_free(value) and mode[key] not in _alternatives(value):
            return False
    return True


def _rmaps(context: str, instrument: str) -> list:
    imap = crds.get_cached_mapping(context).get_imap(instrument)
    return [rmap for rmap in imap.selections.values() if not isinstance(rmap, str) and hasattr(rmap, "selector")]


def _useafters(selection) -> list[str]:
    if hasattr(selection, "raw_keys") and type(selection).__name__ == "UseAfterSelector":
        return [str(k) for k in selection.raw_keys()]
    return []


def _omit_step(rmap, mode: dict) -> None:
    """The mode has no case in `rmap`: switch its calibration step off, as an archived exposure
    of that mode would (e.g. ACS SBC: DARKCORR=OMIT, so no dark is looked up)."""
    switch = str(rmap.header.get("reffile_switch", "NONE")).upper()
    if switch != "NONE" and switch not in mode:
        mode[switch] = "OMIT"


def observing_modes(context: str, instrument: str, count: int, rng: random.Random) -> list[tuple[dict, list[str]]]:
    """`count` (mode header, useafter dates) pairs valid for `instrument` under `context`."""
    rmaps = _rmaps(context, instrument)
    required = crds.get_cached_mapping(context).get_required_parkeys()[instrument]
    cases = []
    for rmap in rmaps:
        match_keys = tuple(rmap.parkey[0]) if rmap.parkey else ()
        raw = list(getattr(rmap.selector, "_raw_selections", []))
        cases.append((rmap, match_keys, raw))
    modes = []
    for _ in range(count):
        mode: dict[str, str] = {}
        dates: list[str] = []
        floor = "1900-01-01 00:00:00"  # the latest first-USEAFTER: earlier dates match nothing somewhere
        order = list(cases)
        rng.shuffle(order)
        for rmap, match_keys, raw in order:
            if not match_keys:  # a pure useafter rmap
                found = _useafters(rmap.selector)
                dates.extend(found)
                floor = max([floor] + found[:1])
                continue
            fitting = [(values, sub) for values, sub in raw
                       if isinstance(values, tuple) and _consistent(match_keys, values, mode)]
            if not fitting:
                _omit_step(rmap, mode)
                continue
            values, sub = rng.choice(fitting)
            for key, value in zip(match_keys, values, strict=False):
                if key not in mode and not _is_free(value):
                    mode[key] = rng.choice(_alternatives(value))
            found = _useafters(sub)
            dates.extend(found)
            floor = max([floor] + found[:1])
        for rmap, _keys, _raw in cases:
            for key, valid in rmap.get_parkey_map().items():
                usable = [v for v in valid if not _is_free(v)]
                if key not in mode and key in required and usable:
                    mode[key] = rng.choice(usable)
        for key in required:
            if key not in ("DATE-OBS", "TIME-OBS"):
                mode.setdefault(key, "NONE")
        usable_dates = sorted(d for d in dates if d[:4].isdigit() and d >= floor)
        modes.append((mode, usable_dates or [floor if floor[:4] > "1900" else "2000-01-01 00:00:00"]))
    return modes


def _random_date(useafters: list[str], rng: random.Random) -> datetime.datetime:
    base = datetime.datetime.strptime(rng.choice(useafters)[:19], "%Y-%m-%d %H:%M:%S")
    moment = base + datetime.timedelta(seconds=rng.randint(0, 400 * 86400))
    return min(moment, datetime.datetime(2030, 1, 1))


def _root(prefix: str, rng: random.Random) -> str:
    return prefix + "".join(rng.choice(ALPHABET) for _ in range(6))


def generate(context: str, instrument: str, count: int, seed: int = 1, modes: int = 400) -> Iterator[tuple[str, dict]]:
    """Yield `count` (dataset id, header) pairs for `instrument`, reproducibly for a given `seed`.

    About a third of the exposures belong to associations of 2 to 4 members
    sharing a product id, the rest are unassociated (`<exp>:<exp>`).
    """
    instrument = instrument.lower()
    rng = random.Random(f"{seed}-{instrument}-{context}")
    pool = observing_modes(context, instrument, min(modes, max(count, 1)), rng)
    prefix = HST_ID_PREFIX.get(instrument, instrument[0])
    seen: set[str] = set()
    made = 0
    while made < count:
        mode, useafters = rng.choice(pool)
        members = rng.choice((1, 1, 1, 1, 2, 3, 4))
        stem = _root(prefix, rng)
        if stem in seen:
            continue
        seen.add(stem)
        when = _random_date(useafters, rng)
        for member in range(min(members, count - made)):
            if members == 1:
                ident = f"{stem}01q:{stem}01q".upper()
            else:
                ident = f"{stem}010:{stem}{member + 1:02d}{rng.choice(string.ascii_lowercase)}".upper()
            moment = when + datetime.timedelta(seconds=600 * member)
            header = dict(mode)
            header.update({"INSTRUME": instrument.upper(), "DATE-OBS": moment.strftime("%Y-%m-%d"),
                           "TIME-OBS": moment.strftime("%H:%M:%S")})
            yield ident, header
            made += 1
