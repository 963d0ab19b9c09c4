"""Re-measure Claude Code's own input with the installed `claude` against the test upstream: the table in
routesh/core/catalog.py must know this version and be within 10% of what it really sends."""

from __future__ import annotations

import json
import os
import subprocess

from upstream import Upstream, claude_exe_fixture, upstream_fixture  # noqa: F401 - fixtures

from routesh.core.catalog import CLAUDE_CODE_OVERHEAD
from routesh.core.estimate import installed_claude_version
from routesh.gateway.translate import count_tokens

TOLERANCE = 0.10
PROMPT = "say hi"


def test_overhead_table_matches_the_installed_claude(upstream: Upstream, claude_exe: str, tmp_path) -> None:
    version = installed_claude_version(claude_exe)
    assert version is not None, f"cannot read the version of {claude_exe} from its package.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env.update(ANTHROPIC_BASE_URL=upstream.url, ANTHROPIC_API_KEY="sk-test", HOME=str(tmp_path),
               CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1")
    subprocess.run([claude_exe, "-p", "--output-format", "stream-json", "--verbose", "--model", "claude-sonnet-4-6"],
                   input=PROMPT.encode(), env=env, capture_output=True, timeout=180, check=False)
    main = [r for r in upstream.generation_requests() if isinstance(r.json, dict) and r.json.get("tools")]
    assert main, "claude sent no main-turn request to the upstream"
    body = main[0].json
    overhead = count_tokens(body) - count_tokens({"messages": [{"role": "user", "content": PROMPT}]})
    table = CLAUDE_CODE_OVERHEAD.get(version)
    assert table is not None, (f"Claude Code {version} is not in CLAUDE_CODE_OVERHEAD (routesh/core/catalog.py); "
                               f"it measured {overhead:,} tokens: add \"{version}\": {round(overhead, -2)}")
    assert abs(table - overhead) <= TOLERANCE * overhead, (
        f"CLAUDE_CODE_OVERHEAD[{version!r}] is {table:,} but claude sent {overhead:,} estimated tokens "
        f"({len(json.dumps(body)):,} bytes); update routesh/core/catalog.py")
