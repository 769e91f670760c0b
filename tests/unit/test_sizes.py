"""Size limits that keep the code readable: no hand-written source file over 400 lines, and
bench/ an instrument of at most 2,550 lines of Python."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_FILE_LINES = 400
MAX_BENCH_LINES = 2550
SOURCES = (".py", ".js", ".css", ".html")


def tracked(*suffixes: str) -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [ROOT / n for n in names if n.endswith(suffixes) and "_generated" not in n]


def lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_no_source_file_is_over_400_lines() -> None:
    sizes = {str(p.relative_to(ROOT)): lines(p) for p in tracked(*SOURCES)}
    assert {name: n for name, n in sizes.items() if n > MAX_FILE_LINES} == {}


def test_bench_is_at_most_2550_lines_of_python() -> None:
    bench = [p for p in tracked(".py") if p.relative_to(ROOT).parts[0] == "bench"]
    assert bench and sum(map(lines, bench)) <= MAX_BENCH_LINES
