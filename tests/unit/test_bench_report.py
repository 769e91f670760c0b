"""docs/performance.md is generated from the committed bench/results: it matches what
`python -m bench --report-only` writes, shows every target, and every plot it embeds exists."""

from __future__ import annotations

import json
import re

from bench.common import RESULTS
from bench.report import PAGE, load, render


def test_the_committed_page_is_what_the_results_render() -> None:
    assert PAGE.read_text() == render(load(RESULTS)), "run `python -m bench --report-only`"


def test_every_target_of_every_shown_benchmark_is_on_the_page() -> None:
    page = PAGE.read_text()
    for name, body in load(RESULTS).items():
        for t in body["targets"]:
            assert f"| {name} | {t['name']} | {t['target']} |" in page, (name, t["name"])


def test_every_embedded_plot_exists_beside_its_results() -> None:
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", PAGE.read_text())
    assert links
    for link in links:
        assert (PAGE.parent / link).resolve().is_file(), link


def test_the_machine_is_described_and_where_the_time_goes_is_said() -> None:
    page = PAGE.read_text()
    newest = max((json.loads(p.read_text())["machine"] for p in RESULTS.glob("*.json")),
                 key=lambda m: m["date"])  # fmt: skip
    assert "## Machine" in page and newest["cpu_model"] in page
    assert "## Where the time goes" in page and "Inside the gateway:" in page
