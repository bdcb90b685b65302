#!/usr/bin/env python3
"""Time Batch Submit References + confirm against sha1sum of the same bytes (issue 5).

A fresh temporary hst/django server root (SQLite) is migrated and loaded with
the HST test cache; then, in this process, batches of 1, 10 and 100 new ACS
bias references (variants of the crds test file hst_acs_biasfile_0001.fits with
distinct USEAFTER dates) and one large reference (the same headers plus a
float32 data cube written in blocks, about 2 GB) are placed in a user's ingest
area, submitted with `submission.batch_submit` and confirmed with
`confirm.decide`.  The baseline is hashlib SHA-1 over the same ingest files,
read warm from the page cache (as the submission reads them), after the disk is
flushed (an upload reaches the disk long before it is submitted); the large files
are also timed against a plain copy on the same file system.  The large file is
submitted three times: with auto-rename (HST: crds uniqname rewrites the file under
its new name, a copy by design), once with a size no cataloged file has and once
with a cataloged file of the same size (then the upload is read for the duplicate
check too), and without auto-rename (the upload is hard-linked).

    .venv/bin/python bench/bench_submission.py [--large-gb 2] [--counts 1,10,100] [--keep]
"""

from __future__ import annotations

import argparse
import datetime
import functools
import hashlib
import os
import platform
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

CHECKOUT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(CHECKOUT / "sources"))
sys.path.insert(0, str(CHECKOUT / "bench"))

import bench_pages  # noqa: E402

USER = "alice"
SOURCE = "hst_acs_biasfile_0001.fits"
BLOCK = 1 << 20

timings: dict[str, float] = defaultdict(float)
calls: dict[str, int] = defaultdict(int)
hashed: list[int] = [0]


def setup_server(root: Path) -> None:
    """bench_pages' server root (HST test cache imported) plus a submitter."""
    bench_pages.setup_server(root)
    from django.conf import settings
    from django.contrib.auth.models import Group, User

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    user = User.objects.create_user(USER, password="pw", email="alice@example.org")
    user.groups.add(Group.objects.get_or_create(name="file_submission")[0])


def instrument() -> None:
    """Accumulate the time of each submission and confirm step (wrapping the module functions they call)."""
    from interactive import confirm, delivery, storage, submission

    def wrap(module, name: str, label: str) -> None:
        real = getattr(module, name)

        @functools.wraps(real)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                timings[label] += time.perf_counter() - started
                calls[label] += 1
        setattr(module, name, timed)

    real_sha1 = storage.sha1_file

    def counting_sha1(path):
        hashed[0] += Path(path).stat().st_size
        return real_sha1(path)

    real_follow = storage.sha1_while_written

    def counting_follow(path, written):
        digest = real_follow(path, written)
        hashed[0] += Path(path).stat().st_size
        return digest

    storage.sha1_file = counting_sha1
    storage.sha1_while_written = counting_follow
    for module, name, label in [
            (submission, "file_properties", "submit: file type from header"),
            (submission, "certify_uploads", "submit: certify uploads"),
            (submission, "check_duplicates", "submit: duplicate check (awaits upload sha1)"),
            (submission, "trial_insertion", "submit: trial rmap insertion"),
            (submission, "place_reference", "submit: place reference (rename/link)"),
            (submission, "reference_metadata", "submit: catalog metadata from header"),
            (submission, "add_references", "submit: name, place, catalog (all)"),
            (submission, "write_rmap", "submit: write new rmap"),
            (submission, "certify_mappings", "submit: certify new rmap"),
            (submission, "review", "submit: collisions + differences"),
            (confirm, "generate_contexts", "confirm: generate imap + pmap"),
            (confirm, "_confirm", "confirm: all"),
            (delivery, "deliver", "confirm: deliver (catalog + links)"),
            (storage, "sha1_file", "sha1_file calls (worker thread)"),
            (storage, "sha1_while_written", "sha1 of the renamed file as written (worker thread)")]:
        wrap(module, name, label)


def variant(target: Path, index: int, big_bytes: int = 0) -> None:
    """A valid ACS bias reference with its own USEAFTER (so its own sha1sum and rmap slot).

    With `big_bytes`, a float32 image cube of about that size is appended as an extra
    extension, written in blocks so it never sits in memory."""
    from astropy.io import fits
    from crds_server import testing

    useafter = datetime.datetime(2030, 1, 1) + datetime.timedelta(days=index, seconds=index)
    with fits.open(testing.test_data() / "hst" / SOURCE) as hdul:
        hdul[0].header["USEAFTER"] = useafter.strftime("%b %d %Y %H:%M:%S")
        hdul[0].header["DESCRIP"] = f"Benchmark bias {index} for data taken after {useafter:%b %d %Y}"[:67]
        if big_bytes:
            hdul[0].header["NEXTEND"] = len(hdul)
        hdul.writeto(target, output_verify="silentfix")
    if not big_bytes:
        return
    nx, ny = 4144, 2068
    planes = max(1, big_bytes // (nx * ny * 4))
    header = fits.Header([("XTENSION", "IMAGE"), ("BITPIX", -32), ("NAXIS", 3), ("NAXIS1", nx), ("NAXIS2", ny),
                          ("NAXIS3", planes), ("PCOUNT", 0), ("GCOUNT", 1), ("EXTNAME", "BIGSCI"),
                          ("EXTVER", 1)])
    rng = np.random.default_rng(index)
    plane = rng.normal(4000.0, 5.0, size=(ny, nx)).astype(">f4").tobytes()
    with open(target, "ab") as out:
        out.write(header.tostring().encode("ascii"))
        for k in range(planes):
            out.write(plane[:-4] + np.float32(k).astype(">f4").tobytes())  # planes differ
        written = planes * len(plane)
        out.write(b"\0" * (-written % 2880))


def sha1_seconds(paths: list[Path]) -> float:
    """hashlib SHA-1 of the files in 1 MiB blocks, warm (best of two reads after a warm-up read)."""
    def once() -> float:
        started = time.perf_counter()
        for path in paths:
            digest = hashlib.sha1()
            with open(path, "rb") as stream:
                for block in iter(lambda: stream.read(BLOCK), b""):
                    digest.update(block)
        return time.perf_counter() - started
    once()
    return min(once(), once())


def copy_seconds(paths: list[Path]) -> float:
    """Writing a second copy of the files on the same file system: the floor of any rename that
    rewrites a file.  Best of two: on a virtual machine the first write into memory the guest
    never used before is several times slower.  The copies are deleted and the disk flushed
    again before the submission."""
    times = []
    for _ in range(2):
        started = time.perf_counter()
        copies = []
        for path in paths:
            copies.append(path.with_name(path.name + ".copy"))
            shutil.copyfile(path, copies[-1])
        times.append(time.perf_counter() - started)
        for copy in copies:
            copy.unlink()
        os.sync()
    return min(times)


def run_batch(label: str, files: list[Path], auto_rename: bool = True, profile: Path | None = None) -> dict:
    from interactive import confirm, submission

    size = sum(p.stat().st_size for p in files)
    os.sync()  # an upload was written to disk long before it is submitted
    baseline = sha1_seconds(files)
    copy_floor = copy_seconds(files) if size > 1e8 else 0.0
    timings.clear()
    calls.clear()
    hashed[0] = 0
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
    started = time.perf_counter()
    result = submission.batch_submit(submission.BatchRequest(
        user=USER, description=f"Benchmark batch of {len(files)} references", auto_rename=auto_rename))
    submitted = time.perf_counter()
    if result.parameters.get("disposition") == "bad files":
        raise RuntimeError(f"{label}: certify failed: {result.parameters['certify_results']}")
    decision = confirm.decide(result.name, "confirm", USER)
    done = time.perf_counter()
    if profiler:
        profiler.stop()
        profile.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    assert decision.disposition == "confirmed"
    return {"label": label, "files": len(files), "bytes": size, "sha1": baseline, "copy": copy_floor,
            "submit": submitted - started,
            "confirm": done - submitted, "total": done - started, "steps": dict(timings), "calls": dict(calls),
            "hashed": hashed[0], "pmap": decision.confirmation.parameters["pmap"]}


def profile_path(base: Path | None, batch: str) -> Path | None:
    return base and base.with_name(f"{base.stem}-{batch}.txt")


def free_large_files(root: Path) -> None:
    """Delete the large reference's cache file and delivery links, so the next run has the disk."""
    for path in root.rglob("*"):
        if path.is_file() and path.suffix == ".fits" and path.stat().st_size > 1e8:
            path.unlink()


def report(row: dict) -> None:
    ratio = row["total"] / row["sha1"]
    print(f"\n{row['label']}: {row['files']} files, {row['bytes'] / 1e6:,.1f} MB -> {row['pmap']}")
    print(f"  sha1 of the same bytes (warm): {row['sha1']:.3f} s; submit {row['submit']:.2f} s + confirm "
          f"{row['confirm']:.2f} s = {row['total']:.2f} s; ratio {ratio:.1f}x")
    if row["copy"]:
        print(f"  writing a plain copy of the same bytes: {row['copy']:.3f} s; submission / copy "
              f"{row['total'] / row['copy']:.2f}x")
    print(f"  bytes hashed (sha1_file, sha1_while_written): {row['hashed'] / max(row['bytes'], 1):.2f}x "
          "the submitted bytes")
    for step, seconds in sorted(row["steps"].items()):
        print(f"    {step:45s} {seconds:8.2f} s  ({row['calls'][step]} calls, {seconds / row['total']:.0%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,10,100")
    parser.add_argument("--large-gb", type=float, default=2.0, help="size of the large reference (0: skip)")
    parser.add_argument("--profile", type=Path,
                        help="write a pyinstrument text profile of each batch to PROFILE-<batch>.txt")
    parser.add_argument("--keep", action="store_true", help="keep the temporary server root")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="crds-bench-submission-"))
    free = shutil.disk_usage(root).free
    if args.large_gb and free < 10e9:
        print(f"only {free / 1e9:.1f} GB free: large reference reduced to 1 GB")
        args.large_gb = min(args.large_gb, 1.0)
    rows = []
    try:
        started = time.perf_counter()
        setup_server(root)
        print(f"server root with the HST test cache ready in {time.perf_counter() - started:.1f} s")
        instrument()
        from interactive import storage

        ingest = storage.ingest_dir(USER)
        ingest.mkdir(parents=True, exist_ok=True)
        index = 0
        for count in [int(c) for c in args.counts.split(",") if c]:
            files = []
            for _ in range(count):
                index += 1
                files.append(ingest / f"bench_bias_{index:04d}.fits")
                variant(files[-1], index)
            rows.append(run_batch(f"{count} reference(s)", files, profile=profile_path(args.profile, f"{count}")))
            report(rows[-1])
        if args.large_gb:
            from interactive.models import FileRecord

            for auto_rename, twin, name in ((True, False, "bench_big_bias.fits"), (True, True, "bench_big_twin.fits"),
                                            (False, False, "zzbench01_bia.fits")):
                index += 1
                path = ingest / name
                variant(path, index, big_bytes=int(args.large_gb * 1e9))
                if twin:  # a cataloged file of the same size: the upload must be read for the duplicate check
                    other = FileRecord.objects.filter(type="reference").order_by("id").first()
                    FileRecord.objects.filter(pk=other.pk).update(size=path.stat().st_size)
                label = f"one {path.stat().st_size / 1e9:.1f} GB reference, " + (
                    ("auto-rename, a cataloged file of the same size" if twin else "auto-rename (uniqname rewrite)")
                    if auto_rename else "no rename (hard link)")
                batch = "twin" if twin else "rename" if auto_rename else "link"
                profile = profile_path(args.profile, "large-" + batch)
                rows.append(run_batch(label, [path], auto_rename, profile))
                report(rows[-1])
                free_large_files(root)
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{platform.system()} {platform.release()}; load average at the end: "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    # The fixed cost of a submission (certifying the new rmap, contexts) is that of one small reference;
    # what a large file adds beyond it, against its sha1, shows copies and re-reads.
    fixed = rows[0]["total"] if rows and rows[0]["files"] == 1 else 0.0
    print("| batch | MB | sha1 (ms) | plain copy (s) | submit (s) | confirm (s) | s per reference | "
          "(submit + confirm) / sha1 | (total - one small reference) / sha1 | (submit + confirm) / plain copy | "
          "bytes hashed / size |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        extra = f"{(row['total'] - fixed) / row['sha1']:.1f}" if row["bytes"] > 1e8 and fixed else ""
        copy = f"{row['copy']:.2f}" if row["copy"] else ""
        per_copy = f"{row['total'] / row['copy']:.2f}" if row["copy"] else ""
        print(f"| {row['label']} | {row['bytes'] / 1e6:,.1f} | {row['sha1'] * 1000:,.2f} | {copy} | "
              f"{row['submit']:.2f} | {row['confirm']:.2f} | {row['total'] / row['files']:.2f} | "
              f"{row['total'] / row['sha1']:,.1f} | {extra} | {per_copy} | {row['hashed'] / row['bytes']:.2f} |")


if __name__ == "__main__":
    main()
