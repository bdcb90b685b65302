"""Temporary server roots for the operations-tool tests: site.env, database, file cache, tools.

Each root is a private hst server (SQLite unless given MariaDB settings) made the way
jsonapi.live_server makes its own: `manage.py migrate`, then `init_catalog --from-cache`.
The tools under tools/ and host/ run against it with CRDS_SITE_ENV, as an operator would.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]

SNAPSHOT_CODE = """
import hashlib, json
from pathlib import Path
from django.forms.models import model_to_dict
from interactive import storage
from interactive.models import FileRecord, ContextHistory, ContextPointer
def files(directory):
    directory = Path(directory)
    if not directory.is_dir():
        return {}
    return {str(p.relative_to(directory)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob('*')) if p.is_file()}
rows = {r['name']: {k: str(v) for k, v in r.items() if k != 'id'} for r in FileRecord.objects.values()}
print(json.dumps({
    'records': rows,
    'history': [[str(h.start_date), h.context, h.state, h.description] for h in ContextHistory.objects.order_by('id')],
    'pointers': sorted([p.kind, p.context] for p in ContextPointer.objects.all()),
    'catalogs': files(storage.catalogs_dir()), 'deliveries': files(storage.deliveries_dir()),
    'mappings': files(storage.mappings_dir()), 'references': sorted(files(storage.references_dir())),
}))
"""


@dataclass
class ServerRoot:
    """A private server root and the environment its commands run in."""

    root: Path
    env: dict[str, str]

    @property
    def site(self) -> dict[str, str]:
        from crds_server import siteconfig

        return siteconfig.read_env_file(self.root / "site.env")

    @property
    def cache(self) -> Path:
        return Path(self.site["CRDS_FILE_CACHE"])

    @property
    def server_files(self) -> Path:
        return Path(self.site["CRDS_SERVER_FILES"])

    @property
    def backups(self) -> Path:
        return self.root / "server" / "db_backups"

    def ref(self, name: str) -> Path:
        return self.cache / "references" / "hst" / name

    def mapping(self, name: str) -> Path:
        return self.cache / "mappings" / "hst" / name

    def run(self, *command: str, stdin: str | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run(list(command), cwd=CHECKOUT, env=self.env, input=stdin, capture_output=True,
                              text=True, timeout=timeout)

    def tool(self, name: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
        """Run tools/NAME (or host/NAME when given as host/NAME)."""
        path = CHECKOUT / (name if "/" in name else f"tools/{name}")
        return self.run(str(path), *args, **kwargs)

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = self.run(sys.executable, str(CHECKOUT / "manage.py"), *args)
        if check and result.returncode:
            raise AssertionError(f"manage.py {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def shell(self, code: str) -> str:
        return self.manage("shell", "-c", code).stdout

    def snapshot(self) -> dict:
        """The catalog, context history, pointers and every backed-up file area, for comparisons."""
        return json.loads(self.shell(SNAPSHOT_CODE).strip().splitlines()[-1])


def make_root(cache_dir: Path | None, usecase: str = "django", secrets: dict[str, str] | None = None,
              migrate: bool = True, **site: str) -> ServerRoot:
    """A migrated server root, its catalog imported from `cache_dir` (None: empty catalog).

    Embedded (SQLite) unless `site` says CRDS_STACK=production, with `secrets` (the DB password).
    """
    from crds_server import siteconfig

    values = {"CRDS_STACK": "embedded", "CRDS_CACHE_BACKEND": "locmem", **site}
    root = Path(tempfile.mkdtemp(prefix="crds-ops-"))
    values = {**siteconfig.render("hst", usecase, {"CRDS": str(root)}), **values}
    siteconfig.write_site_env(values, root / "site.env")
    if secrets:
        secrets_file = Path(values["CRDS_SECRETS_FILE"])
        secrets_file.parent.mkdir(parents=True)
        siteconfig.write_site_env(secrets, secrets_file)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("CRDS_") and key != "DJANGO_SETTINGS_MODULE"}
    env.update(CRDS_SITE_ENV=str(root / "site.env"), DJANGO_SETTINGS_MODULE="crds_server.settings")
    server = ServerRoot(root, env)
    (root / "server").mkdir(exist_ok=True)
    if not migrate:
        return server
    try:
        server.manage("migrate", "--noinput", "-v", "0")
        if cache_dir is not None:
            server.manage("init_catalog", "--from-cache", str(cache_dir))
        else:
            server.shell("from interactive import storage; storage.make_dirs()")
    except BaseException:
        remove_root(server)
        raise
    return server


def serve(root: ServerRoot, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """Start runserver on `root` (its public URL set to it), on `port` or a free one: (the process, its URL)."""
    from jsonapi.live_server import _answers, free_port

    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    root.env["CRDS_PUBLIC_URL"] = url
    log = open(root.root / "runserver.log", "w")
    process = subprocess.Popen([sys.executable, str(CHECKOUT / "manage.py"), "runserver", "--noreload",
                                f"127.0.0.1:{port}"], env=root.env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not _answers(url):
        assert process.poll() is None and time.monotonic() < deadline, (root.root / "runserver.log").read_text()
        time.sleep(0.3)
    return process, url


def remove_root(server: ServerRoot) -> None:
    for path in server.root.rglob("*"):
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(server.root, ignore_errors=True)


TINY_CONTEXT = "hst_0001.pmap"
TINY_REFERENCES = ("hst_acs_biasfile_0001.fits", "hst_acs_biasfile_0002.fits")
UNHELD_REFERENCE = "hst_acs_biasfile_0003.fits"


def _mapping(cls_name: str, name: str, header: dict, selector: str) -> str:
    """Mapping text with its crds checksum, formatted by the crds library."""
    from crds.core import rmap

    draft = f"header = {header!r}\n\nselector = {selector}\n"
    mapping = getattr(rmap, cls_name).from_string(draft, name, ignore_checksum=True)
    mapping.header["sha1sum"] = mapping._get_checksum(mapping.format())
    return mapping.format()


def tiny_rules_cache(root: Path, unheld: bool = False) -> Path:
    """A standard crds cache with one complete, small HST context whose references it all holds.

    hst_0001.pmap -> hst_acs_0001.imap -> hst_acs_biasfile_0001.rmap, selecting two real ACS bias
    files of the crds test data by DETECTOR (HRC, WFC).  With `unheld`, the rmap also selects
    UNHELD_REFERENCE (WFC from 2005), which only the download metadata knows: a server of this
    cache catalogs it but cannot serve it.  The context is the operational and edit context.
    """
    from crds_server import testing

    obs = {"observatory": "HST"}
    rmap_name, imap_name = "hst_acs_biasfile_0001.rmap", "hst_acs_0001.imap"
    refs = {"HRC": {"1992-01-01 00:00:00": TINY_REFERENCES[0]},
            "WFC": {"1992-01-01 00:00:00": TINY_REFERENCES[1],
                    **({"2005-01-01 00:00:00": UNHELD_REFERENCE} if unheld else {})}}
    selector = "Match({\n" + "".join(f"    ('{detector}',) : UseAfter({by_date!r}),\n"
                                     for detector, by_date in refs.items()) + "})"
    texts = {
        rmap_name: _mapping("ReferenceMapping", rmap_name, {
            **obs, "derived_from": "tests/ops_support.py", "filekind": "BIASFILE", "instrument": "ACS",
            "mapping": "REFERENCE", "name": rmap_name, "parkey": (("DETECTOR",), ("DATE-OBS", "TIME-OBS"))},
            selector),
        imap_name: _mapping("InstrumentContext", imap_name, {
            **obs, "derived_from": "tests/ops_support.py", "instrument": "ACS", "mapping": "INSTRUMENT",
            "name": imap_name, "parkey": ("REFTYPE",)}, repr({"biasfile": rmap_name})),
        TINY_CONTEXT: _mapping("PipelineContext", TINY_CONTEXT, {
            **obs, "derived_from": "tests/ops_support.py", "mapping": "PIPELINE", "name": TINY_CONTEXT,
            "parkey": ("INSTRUME",)}, repr({"ACS": imap_name})),
    }
    mappings, references = root / "mappings" / "hst", root / "references" / "hst"
    mappings.mkdir(parents=True)
    references.mkdir(parents=True)
    metadata = {}
    for name, text in texts.items():
        (mappings / name).write_text(text)
        metadata[name] = {"sha1sum": sha1(mappings / name), "size": (mappings / name).stat().st_size}
    for name in TINY_REFERENCES:
        shutil.copyfile(testing.test_data() / "hst" / name, references / name)
        metadata[name] = {"sha1sum": sha1(references / name), "size": (references / name).stat().st_size}
    if unheld:
        metadata[UNHELD_REFERENCE] = {"sha1sum": hashlib.sha1(b"not held").hexdigest(), "size": 8}
    return testing.make_cache(root, [], [], operational_context=TINY_CONTEXT, edit_context=TINY_CONTEXT,
                              versions_context=TINY_CONTEXT, download_metadata=metadata,
                              context_history=[["2024-01-02 03:04:05", TINY_CONTEXT, "tiny rules for tests"]])


def sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def tree(directory: Path) -> dict[str, tuple[str, int]]:
    """Every file under `directory`: sha1sum and mode, for "nothing changed" checks."""
    return {str(p.relative_to(directory)): (sha1(p), p.stat().st_mode)
            for p in sorted(directory.rglob("*")) if p.is_file()}


@contextlib.contextmanager
def smtp_sink() -> Iterator[tuple[object, int]]:
    """The real SMTP sink of the e-mail tests on a free port: (its collector, the port)."""
    from aiosmtpd.controller import Controller
    from interactive.tests.smtp_sink import _Collector, _free_port

    collector = _Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield collector, controller.port
    finally:
        controller.stop()
