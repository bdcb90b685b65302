#!/usr/bin/env python3
"""Measure the JSON-RPC services and downloads against their floors, as ratios.

A live hst/django server (Django's threaded server, SQLite, local-memory
cache; jsonapi.live_server) is loaded with the shared HST test cache.  Then:

* get_best_references requests/s with 1, 4 and 16 concurrent clients, over
  the same number of threads calling heavy_client.hv_best_references in
  this process (the JSON-RPC overhead ratio); on the production stack, with
  one client also against the same calls in a program linked to libpython.so,
  the interpreter build mod_wsgi runs (see shared_interpreter);
* get_server_info latency, warm over HTTP, and cold (catalog generation
  invalidated) and warm through Django's test client in this process;
* get_file_info_map with every cataloged name (what `crds sync
  --check-files` sends) over HTTP against the service function in process;
* reference download throughput against reading the same file from disk,
  both from the page cache and cold (the file's pages evicted before each
  read or download, so both come from the disk);
* `crds sync --contexts hst_0729.pmap` into an empty cache against the same
  command with its mapping downloads served by a plain static file server
  (python -m http.server, via CRDS_MAPPING_URI).

    .venv/bin/python bench/bench_jsonapi.py [--seconds S] [--runs N] [--parts P,...]

Best references are timed with urllib opening a connection per call, as the
crds client does, and with --keep-alive also over one persistent connection
per client thread, as a pipeline holding a session would.
"""

from __future__ import annotations

import argparse
import atexit
import http.client
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(CHECKOUT / "sources"))

DATASET = "j8bt05njq_raw.fits"
REFERENCE = "v8q14451j_idc.fits"
LARGE_REFERENCE = "zbench001_drk.fits"
WARM_UP_DOWNLOADS = 20  # reach every WSGI daemon process (2 by default) with near certainty
LARGE_SIZE = 200 * 1024 * 1024
PARTS = ("bestrefs", "info", "filemap", "downloads", "sync")


def add_large_reference() -> None:
    """A large synthetic reference in the server's cache and catalog (before the server indexes downloads)."""
    import hashlib

    from interactive import storage
    from interactive.models import FileRecord

    path = storage.cache_path(LARGE_REFERENCE)
    digest = hashlib.sha1()
    with open(path, "wb") as out:
        for _ in range(LARGE_SIZE // (1 << 20)):
            block = os.urandom(1 << 20)
            digest.update(block)
            out.write(block)
    path.chmod(0o444)
    FileRecord.objects.create(name=LARGE_REFERENCE, type="reference", observatory="hst", state="archived",
                              instrument="acs", filekind="darkfile", size=LARGE_SIZE, sha1sum=digest.hexdigest())


def post(url: str, method: str, *params) -> object:
    body = json.dumps({"jsonrpc": "1.0", "method": method, "params": list(params), "id": 1}).encode()
    with urllib.request.urlopen(url + f"/json/{method}/1/", body, timeout=300) as response:
        envelope = json.loads(response.read())
    if envelope["error"]:
        raise RuntimeError(envelope["error"]["message"])
    return envelope["result"]


class KeepAliveClient:
    """JSON-RPC calls over one persistent HTTP connection (one per client thread)."""

    def __init__(self, url: str):
        parts = urllib.parse.urlsplit(url)
        self.prefix = parts.path.rstrip("/")
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)

    def post(self, method: str, *params) -> object:
        body = json.dumps({"jsonrpc": "1.0", "method": method, "params": list(params), "id": 1})
        self.connection.request("POST", f"{self.prefix}/json/{method}/1/", body,
                                {"Content-Type": "application/x-www-form-urlencoded"})
        envelope = json.loads(self.connection.getresponse().read())
        if envelope["error"]:
            raise RuntimeError(envelope["error"]["message"])
        return envelope["result"]


def fetch(url: str) -> None:
    """Download `url` to nowhere, the way the crds client reads a file (8 MiB blocks)."""
    with urllib.request.urlopen(url) as response:
        while response.read(8 * 1024 * 1024):
            pass


def evict(path: Path) -> None:
    """Drop the file's pages from the page cache, so the next read comes from the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def read_file(path: Path) -> None:
    with open(path, "rb") as handle:
        while handle.read(8 * 1024 * 1024):
            pass


def rate(work, threads: int, seconds: float, per_thread=None) -> float:
    """Calls of work() per second with `threads` threads calling it in a loop for `seconds`.

    With `per_thread`, each thread calls work(per_thread()) with its own object (a connection).
    """
    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def loop(i: int) -> None:
        own = (per_thread(),) if per_thread else ()
        while time.perf_counter() < stop:
            work(*own)
            counts[i] += 1

    pool = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def median_time(work, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def setup_in_process(server) -> None:
    """Django in this process over the live server's own root and database (for in-process figures)."""
    os.environ["CRDS_SITE_ENV"] = server.env["CRDS_SITE_ENV"]
    os.environ["DJANGO_SETTINGS_MODULE"] = "crds_server.settings"
    import django

    django.setup()


def crds_sync(server, env_extra: dict[str, str]) -> float:
    cache = Path(tempfile.mkdtemp(prefix="crds-bench-client-"))
    env = server.client_env(cache, **env_extra)
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "crds"), "sync", "--contexts", "hst_0729.pmap"],
                   env=env, check=True, capture_output=True)
    elapsed = time.perf_counter() - started
    subprocess.run(["rm", "-rf", str(cache)], check=True)
    return elapsed


def measure(server, args, shared_cache: bool = False) -> dict[str, str]:
    """The figures of `args.parts` against a running server whose database this process uses (Django set up).

    With `shared_cache` (memcached on the production stack) an invalidation made
    here reaches the server, so server info is also timed cold over HTTP.
    """
    figures: dict[str, str] = {}
    parts = {"bestrefs": measure_bestrefs, "info": measure_server_info, "filemap": measure_file_info_map,
             "downloads": measure_downloads, "sync": measure_sync}
    for part in args.parts:
        print(f"{part} ...", flush=True)
        figures.update(parts[part](server, args, shared_cache))
    return figures


def bestrefs_header() -> dict[str, str]:
    """The header every best-references figure sends: a real HST dataset's, values as strings."""
    from crds import data_file
    from crds_server import testing

    return {k: str(v) for k, v in data_file.get_header(str(testing.test_data() / "hst" / DATASET)).items()}


def measure_bestrefs(server, args, shared_cache: bool) -> dict[str, str]:
    from crds.core import heavy_client

    figures: dict[str, str] = {}
    url = server.url
    header = bestrefs_header()
    post(url, "get_best_references", "hst_0729.pmap", header, None)  # load the rules in the server
    heavy_client.hv_best_references("hst_0729.pmap", header)

    def per_call(*_) -> None:
        post(url, "get_best_references", "hst_0729.pmap", header, None)

    def keep_alive(client: KeepAliveClient) -> None:
        client.post("get_best_references", "hst_0729.pmap", header, None)

    def local(*_) -> None:
        heavy_client.hv_best_references("hst_0729.pmap", header)

    shared_python = shared_interpreter() if shared_cache else None  # the production stack runs mod_wsgi
    for threads in (1, 4, 16):
        remotes, kept, locals_, shared = [], [], [], []
        for _ in range(3):  # interleaved, medians: the machine's load drifts between runs
            if threads == 1 and shared_python:
                shared.append(shared_rate(shared_python, header, args.seconds))
            remotes.append(rate(per_call, threads, args.seconds))
            if args.keep_alive:
                kept.append(rate(keep_alive, threads, args.seconds, per_thread=lambda: KeepAliveClient(url)))
            locals_.append(rate(local, threads, args.seconds))
        remote, inproc = statistics.median(remotes), statistics.median(locals_)
        figures[f"get_best_references, {threads} client(s): requests/s (in-process calls/s)"] = \
            f"{remote:.0f} ({inproc:.0f})"
        figures[f"get_best_references, {threads} client(s): JSON-RPC / in-process"] = f"{remote / inproc:.2f}"
        if shared:
            embedded = statistics.median(shared)
            figures["hv_best_references in process, 1 thread, through libpython.so (mod_wsgi's interpreter "
                    "build): calls/s"] = f"{embedded:.0f} ({embedded / inproc:.2f} of the static interpreter)"
            figures["get_best_references, 1 client: JSON-RPC / in-process through libpython.so"] = \
                f"{remote / embedded:.2f}"
        if kept:
            alive = statistics.median(kept)
            figures[f"get_best_references, {threads} client(s), keep-alive connections: requests/s"] = \
                f"{alive:.0f}"
            figures[f"get_best_references, {threads} client(s), keep-alive: JSON-RPC / in-process"] = \
                f"{alive / inproc:.2f}"
    return figures


EMBEDDING_MAIN = "#include <Python.h>\nint main(int argc, char **argv) { return Py_BytesMain(argc, argv); }\n"

SHARED_RATE = """
import json, os, sys, time
from crds.core import heavy_client
header = json.loads(sys.argv[1])
heavy_client.hv_best_references("hst_0729.pmap", header)
count, stop = 0, time.perf_counter() + float(sys.argv[2])
started = time.perf_counter()
while time.perf_counter() < stop:
    heavy_client.hv_best_references("hst_0729.pmap", header)
    count += 1
print(count / (time.perf_counter() - started))
"""


def shared_interpreter() -> Path | None:
    """This Python built as a program linked to libpython3.X.so, the library mod_wsgi embeds.

    The venv's python is the statically linked interpreter, which runs the rules engine
    faster than the shared library does; timing both separates what the production
    interpreter costs from what HTTP and Django add.  None without a C compiler.
    """
    import sysconfig

    folder = Path(tempfile.mkdtemp(prefix="crds-bench-python-"))
    atexit.register(shutil.rmtree, folder, True)
    (folder / "main.c").write_text(EMBEDDING_MAIN)
    libdir = sysconfig.get_config_var("LIBDIR")
    built = subprocess.run(["cc", "-O2", "-o", str(folder / "python"), str(folder / "main.c"),
                            f"-I{sysconfig.get_paths()['include']}", f"-L{libdir}",
                            f"-lpython{sysconfig.get_config_var('LDVERSION')}", f"-Wl,-rpath,{libdir}"],
                           capture_output=True)
    return folder / "python" if built.returncode == 0 else None


def shared_rate(python: Path, header: dict, seconds: float) -> float:
    """hv_best_references calls/s in one thread of `python` (shared_interpreter), this process's sys.path."""
    env = dict(os.environ, PYTHONHOME=sys.base_prefix, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run([str(python), "-c", SHARED_RATE, json.dumps(header), str(seconds)], env=env,
                          capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1])


def measure_server_info(server, args, shared_cache: bool) -> dict[str, str]:
    from django.test import Client
    from interactive import cache
    from jsonapi import server_info

    figures: dict[str, str] = {}
    url = server.url
    client = Client()
    body = json.dumps({"method": "get_server_info", "params": [], "id": 1})

    def info_in_process() -> None:
        client.generic("POST", "/json/", body, content_type="application/x-www-form-urlencoded")

    def info_cold() -> None:
        cache.invalidate()
        info_in_process()

    def info_cold_http() -> None:
        cache.invalidate()
        post(url, "get_server_info")

    warm_http = median_time(lambda: post(url, "get_server_info"), args.runs * 3)
    if shared_cache:
        cold_http = median_time(info_cold_http, args.runs)
        post(url, "get_server_info")
        warm_http = median_time(lambda: post(url, "get_server_info"), args.runs * 3)
        figures["get_server_info cold (catalog changed), over HTTP"] = f"{cold_http * 1000:.0f} ms"
        figures["get_server_info warm / cold, over HTTP"] = f"{warm_http / cold_http:.2f}"
    cold = median_time(info_cold, args.runs)
    warm = median_time(info_in_process, args.runs * 3)
    build = median_time(server_info.build_catalog_info, args.runs)
    figures["get_server_info warm, over HTTP"] = f"{warm_http * 1000:.0f} ms"
    figures["get_server_info warm, in process"] = f"{warm * 1000:.0f} ms"
    figures["get_server_info cold (catalog changed), in process"] = f"{cold * 1000:.0f} ms"
    figures["get_server_info cold / building the catalog part alone"] = f"{cold / build:.2f}"
    figures["get_server_info warm / cold"] = f"{warm / cold:.2f}"
    return figures


def measure_file_info_map(server, args, shared_cache: bool) -> dict[str, str]:
    from jsonapi import services

    url = server.url
    names = sorted(post(url, "get_file_info_map", "hst", None, ["size"]))
    fields = ["size", "rejected", "blacklisted", "state", "sha1sum"]
    http = median_time(lambda: post(url, "get_file_info_map", "hst", names, fields), args.runs)
    service = median_time(lambda: services.file_info_map(names, fields), args.runs)
    return {f"get_file_info_map of {len(names):,} names over HTTP": f"{http:.2f} s",
            "get_file_info_map: service function alone / whole HTTP call": f"{service / http:.2f}"}


def measure_downloads(server, args, shared_cache: bool) -> dict[str, str]:
    """Download throughput against reading the file, warm (page cache) and cold (from the disk).

    Throughput is the steady state: the first download in each server process after a catalog
    change builds that process's index of distributable files (35-100 ms for 43,800 files), and
    which process answers is up to Apache, so a few small downloads come first.
    """
    from interactive import storage

    figures: dict[str, str] = {}
    for _ in range(WARM_UP_DOWNLOADS):  # each server process builds its index of distributable files once
        fetch(f"{server.url}/unchecked_get/references/hst/{REFERENCE}")
    for name, count in ((LARGE_REFERENCE, 2), (REFERENCE, 200)):
        path = storage.cache_path(name)
        size = path.stat().st_size
        total = size * count / 1e6
        times = download_times(path, f"{server.url}/unchecked_get/references/hst/{name}", count)
        for mode, (over_http, disk) in times.items():
            figures[f"download of a {size:,}-byte reference, {mode}: MB/s over HTTP (read)"] = \
                f"{total / over_http:.0f} ({total / disk:.0f})"
            figures[f"download of a {size:,}-byte reference, {mode}: throughput / read"] = \
                f"{disk / over_http:.2f}"
        if name == LARGE_REFERENCE:
            ceiling = loopback_ceiling(path)
            figures["the same bytes by raw sendfile over loopback, page cache: MB/s (the transport's ceiling)"] = \
                f"{ceiling:.0f}"
            figures["download, page cache: throughput / the transport's ceiling"] = \
                f"{total / times['page cache'][0] / ceiling:.2f}"
    return figures


def loopback_ceiling(path: Path, runs: int = 3) -> float:
    """MB/s of the file sent with sendfile over a loopback socket into a reused buffer: no HTTP, no Python copy."""
    import socket

    size = path.stat().st_size
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        for _ in range(runs):
            connection, _ = listener.accept()
            with connection, open(path, "rb") as handle:
                offset = 0
                while offset < size:
                    offset += os.sendfile(connection.fileno(), handle.fileno(), offset, size - offset)

    sender = threading.Thread(target=serve, daemon=True)
    sender.start()
    buffer = memoryview(bytearray(1 << 20))
    times = []
    for _ in range(runs):
        with socket.create_connection(listener.getsockname()) as receiver:
            started = time.perf_counter()
            while receiver.recv_into(buffer):
                pass
            times.append(time.perf_counter() - started)
    sender.join()
    listener.close()
    return size / 1e6 / statistics.median(times)


def download_times(path: Path, url: str, count: int) -> dict[str, tuple[float, float]]:
    """Seconds to download `url` and to read `path` `count` times: cold (evicted first) and from the page cache."""

    def repeat(work, cold: bool):
        def run() -> None:
            for _ in range(count):
                if cold:
                    evict(path)
                work()
        return run

    http_cold, disk_cold = [], []
    for _ in range(3):  # interleaved: the disk's speed drifts
        http_cold.append(median_time(repeat(lambda: fetch(url), cold=True), 1))
        disk_cold.append(median_time(repeat(lambda: read_file(path), cold=True), 1))
    read_file(path)
    http_warm = median_time(repeat(lambda: fetch(url), cold=False), 3)
    disk_warm = median_time(repeat(lambda: read_file(path), cold=False), 3)
    return {"cold": (statistics.median(http_cold), statistics.median(disk_cold)),
            "page cache": (http_warm, disk_warm)}


def measure_sync(server, args, shared_cache: bool) -> dict[str, str]:
    from interactive import storage
    from jsonapi import live_server

    port = live_server.free_port()
    static = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
                              cwd=storage.cache_path("hst_0729.pmap").parent, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        ours, plain = [], []
        for _ in range(5):  # interleaved: the machine's load drifts between runs
            ours.append(crds_sync(server, {}))
            plain.append(crds_sync(server, {"CRDS_MAPPING_URI": f"http://127.0.0.1:{port}"}))
        ours, plain = statistics.median(ours), statistics.median(plain)
    finally:
        static.terminate()
        static.wait()
    return {"crds sync --contexts hst_0729.pmap (137 mappings), median of 5": f"{ours:.2f} s",
            "same, mappings from a static file server": f"{plain:.2f} s",
            "crds sync: this server / static file server": f"{ours / plain:.2f}"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each rate measurement")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep-alive", action="store_true",
                        help="also time best references over keep-alive connections (Apache; Django's "
                             "development server delays them by Nagle's algorithm)")
    parser.add_argument("--parts", type=parse_parts, default=PARTS,
                        help=f"comma-separated figures to measure, of {','.join(PARTS)} (default all)")


def parse_parts(text: str) -> tuple[str, ...]:
    parts = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [part for part in parts if part not in PARTS]
    if unknown or not parts:
        raise argparse.ArgumentTypeError(f"unknown part(s) {', '.join(unknown) or '(none)'}; "
                                         f"choose from {', '.join(PARTS)}")
    return parts


def machine_line() -> str:
    return (f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
            f"Python {platform.python_version()}")


def print_figures(figures: dict[str, str]) -> None:
    print(f"\n{machine_line()}")
    print("| figure | value |\n|---|---|")
    for name, value in figures.items():
        print(f"| {name} | {value} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()

    from crds_server import testing
    from jsonapi import live_server

    server = live_server.start(testing.test_cache())
    # Removed at exit, after Django in this process has written its last request statistics.
    atexit.register(shutil.rmtree, server.root, True)
    try:
        setup_in_process(server)
        add_large_reference()
        figures = measure(server, args)
    finally:
        live_server.stop(server, remove=False)
    print_figures(figures)


if __name__ == "__main__":
    main()
