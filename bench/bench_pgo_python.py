#!/usr/bin/env python3
"""What a profile-guided, link-time-optimised Python would give the production stack.

Debian's libpython3.11.so, the library mod_wsgi embeds, is built without PGO and
LTO and runs Python code at about 0.8 of /usr/bin/python3.11, the program the
in-process baselines run in (bench_jsonapi's "through libpython.so" figure).
This script builds CPython from Debian's own python3.11 source tarball as a
shared library with `--enable-optimizations --with-lto`, clones this checkout
with a .venv made from that build, and runs bench_production's best-references
part in both checkouts, one after the other, printing the figures side by side.
Debian's patches are not applied: they change paths and fix security bugs, not
speed.  The build takes about 10 minutes on 2 cores and needs ./install's
compilers and headers and the Debian archive.

    .venv/bin/python bench/bench_pgo_python.py [--python PREFIX] [--seconds S]

--python reuses an earlier build (the prefix it was installed in).  The clone is
of the last commit: uncommitted changes are not measured.
"""

from __future__ import annotations

import argparse
import hashlib
import lzma
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
ARCHIVE = "http://deb.debian.org/debian"
SOURCE_PACKAGE = "python3.11"
sys.path.insert(0, str(CHECKOUT / "sources"))

from crds_server import testing  # noqa: E402

FIGURES = re.compile(r"^\| (get_best_references|hv_best_references)[^|]*\| [^|]+\|$")


def debian_source(folder: Path) -> Path:
    """Download and unpack the orig tarball of Debian's python3.11 (checked against the archive's sha256)."""
    with urllib.request.urlopen(f"{ARCHIVE}/dists/bookworm/main/source/Sources.xz") as response:
        index = lzma.decompress(response.read()).decode()
    stanza = next(block for block in index.split("\n\n") if f"Package: {SOURCE_PACKAGE}\n" in f"{block}\n")
    directory = re.search(r"^Directory: (\S+)$", stanza, re.M).group(1)
    sha256, name = re.search(r"^ ([0-9a-f]{64}) \d+ (\S+\.orig\.tar\.\w+)$", stanza, re.M).groups()
    tarball = folder / name
    urllib.request.urlretrieve(f"{ARCHIVE}/{directory}/{name}", tarball)
    if hashlib.sha256(tarball.read_bytes()).hexdigest() != sha256:
        sys.exit(f"{name}: checksum differs from the archive's index")
    subprocess.run(["tar", "xf", name], cwd=folder, check=True)
    return next(path for path in folder.iterdir() if path.is_dir())


def build_python(folder: Path) -> Path:
    """Build and install a PGO + LTO shared CPython under `folder`/python; return the prefix."""
    source = debian_source(folder)
    prefix = folder / "python"
    print(f"building {source.name} with --enable-optimizations --with-lto (about 10 minutes) ...", flush=True)
    subprocess.run(["./configure", f"--prefix={prefix}", "--enable-shared", "--enable-optimizations", "--with-lto",
                    f"LDFLAGS=-Wl,-rpath,{prefix}/lib"], cwd=source, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["make", f"-j{os.cpu_count()}"], cwd=source, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    subprocess.run(["make", "install"], cwd=source, check=True, capture_output=True)
    return prefix


def clone_with_python(folder: Path, prefix: Path) -> Path:
    checkout = folder / "checkout"
    subprocess.run(["git", "clone", "-q", str(CHECKOUT), str(checkout)], check=True)
    subprocess.run([str(prefix / "bin" / "python3.11"), "-m", "venv", str(checkout / ".venv")], check=True)
    subprocess.run([str(checkout / "tools" / "setup_venv")], check=True, capture_output=True)
    return checkout


def best_references_figures(checkout: Path, seconds: float) -> dict[str, str]:
    env = dict(os.environ, CRDS_SHARED_DATA=str(testing.shared_data()))
    done = subprocess.run([str(checkout / ".venv" / "bin" / "python"), "bench/bench_production.py", "--keep-alive",
                           "--page-runs", "0", "--parts", "bestrefs", "--no-static", "--seconds", str(seconds)],
                          cwd=checkout, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"bench_production.py failed in {checkout}:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    rows = [line.strip("| ").split(" | ") for line in done.stdout.splitlines() if FIGURES.match(line)]
    return dict(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", type=Path, help="prefix of an earlier build (skips the build)")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each rate measurement")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="crds-bench-pgo-"))
    folder.chmod(0o755)  # Apache's daemons run as another user and load this Python and the clone's .venv
    try:
        prefix = args.python.resolve() if args.python else build_python(folder)
        checkout = clone_with_python(folder, prefix)
        print("best references, this checkout's Python ...", flush=True)
        debian = best_references_figures(CHECKOUT, args.seconds)
        print("best references, the PGO + LTO build ...", flush=True)
        optimised = best_references_figures(checkout, args.seconds)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\n{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print("| figure | Debian's python3.11 | PGO + LTO build |\n|---|---|---|")
    for name, value in debian.items():
        print(f"| {name} | {value} | {optimised.get(name, '—')} |")


if __name__ == "__main__":
    main()
