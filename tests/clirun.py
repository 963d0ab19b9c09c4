"""Run the installed `routesh` command as a user would, for the CLI tests."""

from __future__ import annotations

import os
import shutil
import subprocess

ROUTESH = shutil.which("routesh") or "routesh"


def routesh(*args: str, stdin: str | bytes = b"", env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run routesh with stdin given (never a terminal); fail the test on any traceback."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    p = subprocess.run([ROUTESH, *args], input=data, capture_output=True, env=dict(os.environ, **(env or {})),
                       timeout=timeout)
    out = subprocess.CompletedProcess(p.args, p.returncode, p.stdout.decode(), p.stderr.decode())
    assert "Traceback" not in out.stderr, out.stderr
    return out
