"""A throwaway PostgreSQL cluster for the tests: initdb into a temp dir, a Unix socket there, no TCP, stopped after.

Run as the `postgres` user (runuser) when the tests run as root, since PostgreSQL refuses to run as root.
No containers and no mocks: the real server Debian's `postgresql` package installs (.ci/run installs it).
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def bin_dir() -> Path | None:
    """Where initdb and pg_ctl are: on PATH, or Debian's /usr/lib/postgresql/<version>/bin (newest first)."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(os.path.realpath(initdb)).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]), reverse=True)
    return Path(found[0]).parent if found else None


@dataclass
class Cluster:
    """A running cluster: its directory, its socket directory and how to get a fresh database on it."""

    root: Path
    bindir: Path
    _names: itertools.count = itertools.count(1)  # type: ignore[assignment]

    @property
    def socket_dir(self) -> Path:
        return self.root

    def url(self, db: str = "postgres", password: str | None = None) -> str:
        """A URL for a database on the cluster, through its Unix socket."""
        auth = f"postgres:{password}@" if password else "postgres@"
        return f"postgresql://{auth}/{db}?host={self.socket_dir}"

    def fresh_db(self) -> str:
        """Create an empty database; its URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return name

    def restart(self) -> None:
        """Stop the server (fast: connections are cut) and start it again, as an outage would."""
        data = str(self.root / "data")
        _run(self, [str(self.bindir / "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"])
        _run(self, [str(self.bindir / "pg_ctl"), "-D", data, "-l", str(self.root / "log"), "-o", _opts(self.root),
                    "-w", "-t", "60", "start"])

    def stop(self) -> None:
        _run(self, [str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop"],
             check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def _as_owner(argv: list[str]) -> list[str]:
    """argv run as `postgres` when we are root (initdb and postgres refuse root), else as is."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _run(c: Cluster, argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_as_owner(argv), capture_output=True, text=True, check=check, timeout=60, cwd=c.root)


def _opts(root: Path) -> str:
    """The server's options: a Unix socket in the cluster's directory, no TCP, no fsync (a throwaway)."""
    return f"-c listen_addresses='' -c unix_socket_directories='{root}' -c fsync=off -c full_page_writes=off"


def start() -> Cluster:
    """initdb + pg_ctl start in a new temp dir (outside pytest's 0700 basetemp, which `postgres` cannot enter)."""
    bindir = bin_dir()
    if bindir is None:
        raise FileNotFoundError("initdb")
    # /tmp, not $TMPDIR: the `postgres` user must be able to reach it, and a socket path must stay short
    root = Path(tempfile.mkdtemp(prefix="routesh-pg-", dir="/tmp" if os.path.isdir("/tmp") else None))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    c = Cluster(root, bindir)
    try:
        _run(c, [str(bindir / "initdb"), "-D", str(root / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                 "--no-sync", "--locale=C"])
        _run(c, [str(bindir / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "log"), "-o", _opts(root), "-w",
                 "-t", "60", "start"])
    except BaseException:
        log = root / "log"
        detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"the throwaway PostgreSQL cluster did not start: {detail}") from None
    return c
