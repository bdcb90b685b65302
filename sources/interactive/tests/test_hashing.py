"""SHA-1 sums computed beside a submission: of uploads, and of renamed references as they are written."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from unittest import TestCase

from interactive import storage


def write_slowly(path: Path, blocks: list[bytes], written: threading.Event, pause: float = 0.01) -> None:
    try:
        with open(path, "wb") as out:
            for block in blocks:
                out.write(block)
                out.flush()
                time.sleep(pause)
    finally:
        written.set()


class HashWhileWrittenTests(TestCase):
    def setUp(self):
        self.root = Path(tempfile.mkdtemp(prefix="hashing-"))
        self.addCleanup(shutil.rmtree, self.root, True)
        self.path = self.root / "renamed.fits"
        # Blocks of uneven sizes, some larger than the 1 MiB read size.
        self.blocks = [os.urandom(size) for size in (2880, 1 << 20, 3 << 19, 17, 2 << 20, 5000)]
        self.expected = hashlib.sha1(b"".join(self.blocks)).hexdigest()

    def hash_beside(self, writer) -> str:
        written = threading.Event()
        hasher_result: list = []
        hasher = threading.Thread(target=lambda: hasher_result.append(
            storage.sha1_while_written(self.path, written)))
        hasher.start()  # before the file exists, as when the rename starts
        time.sleep(0.02)
        writer(written)
        hasher.join(10)
        self.assertFalse(hasher.is_alive())
        return hasher_result[0]

    def test_a_file_written_in_blocks_has_the_sum_of_its_bytes(self):
        digest = self.hash_beside(lambda written: write_slowly(self.path, self.blocks, written))
        self.assertEqual(digest, self.expected)
        self.assertEqual(digest, storage.sha1_file(self.path))

    def test_a_file_the_writer_cut_short_is_hashed_again(self):
        def writer(written):
            write_slowly(self.path, self.blocks, threading.Event())
            os.truncate(self.path, 4000)  # shorter than what was read
            written.set()
        digest = self.hash_beside(writer)
        self.assertEqual(digest, hashlib.sha1(b"".join(self.blocks)[:4000]).hexdigest())

    def test_a_file_replaced_under_its_name_is_hashed_again(self):
        def writer(written):
            write_slowly(self.path, self.blocks, threading.Event())
            staged = self.root / "staged"
            staged.write_bytes(b"other bytes")
            os.replace(staged, self.path)
            written.set()
        digest = self.hash_beside(writer)
        self.assertEqual(digest, hashlib.sha1(b"other bytes").hexdigest())

    def test_a_writer_that_never_created_the_file_is_an_error_not_a_hang(self):
        written = threading.Event()
        written.set()
        with self.assertRaises(FileNotFoundError):
            storage.sha1_while_written(self.path, written)

    def test_leaving_hashes_releases_a_follower_whose_writer_never_finished(self):
        started = time.perf_counter()
        with storage.Hashes() as hashes:
            hashes.follow("never", self.path)  # nobody writes it and nobody sets the event
        self.assertLess(time.perf_counter() - started, 5)

    def test_hashes_follow_one_file_while_another_is_read(self):
        upload = self.root / "upload.fits"
        upload.write_bytes(b"".join(self.blocks[:3]))
        with storage.Hashes() as hashes:
            hashes.start("upload", upload)
            written = hashes.follow("renamed", self.path)
            write_slowly(self.path, self.blocks, written)
            self.assertEqual(hashes.take_all(), {"upload": storage.sha1_file(upload), "renamed": self.expected})
