"""False positives of routesh.screening.screen on ordinary source code: the whole Python standard library.

    python benchmarks/screen_false_positives.py            # every .py file of the stdlib
    python benchmarks/screen_false_positives.py --all      # also .txt/.pem/.json/... (test data)
    python benchmarks/screen_false_positives.py --quiet    # the totals only
    python benchmarks/screen_false_positives.py PATH...    # another tree (e.g. a checked-out project)
    python benchmarks/screen_false_positives.py --ext .md /usr/share/doc /usr/lib/node_modules   # Markdown docs

Prints every finding as kind, file:line and the line *with the finding redacted* (so the
report never prints a secret, real or not), then findings per MB and the share of files
flagged. site-packages (third-party code) is left out.
"""

from __future__ import annotations

import argparse
import sys
import sysconfig
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from routesh.screening.screen import Finding, redact, scan  # noqa: E402

TEXT_SUFFIXES = {".py", ".txt", ".pem", ".json", ".cfg", ".ini", ".toml", ".rst", ".md", ".html", ".xml", ".csv",
                 ".sh", ".bat", ".ps1", ".c", ".h", ".js", ".css", ".yaml", ".yml", ".key", ".crt", ".env"}


def files(roots: list[Path], all_text: bool, ext: str = ".py") -> list[Path]:
    """Source files under the roots, skipping caches and (below the root) site-packages."""
    out = []
    for root in roots:
        for path in sorted(root.rglob("*")):
            parts = path.relative_to(root).parts
            if ("site-packages" in parts and ext == ".py") or "__pycache__" in parts or not path.is_file():
                continue
            if path.suffix == ext or (all_text and path.suffix in TEXT_SUFFIXES):
                out.append(path)
    return out


def context(text: str, finding: Finding, findings: tuple[Finding, ...], width: int = 110) -> str:
    """The finding's line with every finding on it redacted, cut to width."""
    line_start = text.rfind("\n", 0, finding.start) + 1
    line_end = text.find("\n", finding.end)
    line_end = len(text) if line_end < 0 else line_end
    local = [Finding(f.kind, f.line, f.start - line_start, min(f.end, line_end) - line_start)
             for f in findings if line_start <= f.start < line_end]
    shown = redact(text[line_start:line_end], local).strip()
    return shown if len(shown) <= width else shown[: width - 1] + "…"


def main(argv: list[str] | None = None) -> int:
    """Scan the tree, list the findings, print the rates."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="trees to scan (default: the Python stdlib)")
    parser.add_argument("--all", action="store_true", help="also scan non-Python text files")
    parser.add_argument("--quiet", action="store_true", help="print the totals only")
    parser.add_argument("--ext", default=".py", help="the file suffix to scan (default .py; .md for docs)")
    args = parser.parse_args(argv)
    roots = args.paths or [Path(sysconfig.get_paths()["stdlib"])]
    paths = files(roots, args.all, args.ext)
    total_bytes = 0
    flagged: dict[Path, tuple[Finding, ...]] = {}
    kinds: Counter[str] = Counter()
    elapsed = 0.0
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            text = path.read_bytes().decode("latin-1")
        total_bytes += len(text.encode("utf-8", "surrogatepass"))
        t0 = time.perf_counter()
        found = scan(text)
        elapsed += time.perf_counter() - t0
        if found:
            flagged[path] = found
            kinds.update(f.kind for f in found)
            if not args.quiet:
                for f in found:
                    rel = path.relative_to(next(r for r in roots if path.is_relative_to(r)))
                    print(f"{f.kind:26} {rel}:{f.line}  {context(text, f, found)}")
    mb = total_bytes / 1e6
    n_findings = sum(kinds.values())
    print(f"\nscanned {len(paths)} files, {mb:.1f} MB in {elapsed:.2f} s ({elapsed / mb * 1e3:.1f} ms per MB)")
    print(f"findings: {n_findings} ({n_findings / mb:.2f} per MB); files flagged: {len(flagged)} "
          f"({len(flagged) / max(1, len(paths)):.2%} of files)")
    for kind, count in kinds.most_common():
        print(f"  {kind:26} {count}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
