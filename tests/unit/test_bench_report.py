"""docs/performance.md is generated from the committed bench/results: it matches what
`python -m bench --report-only` writes, shows every target, and every plot it embeds exists."""

from __future__ import annotations

import json
import re
from typing import Any

from bench import common
from bench.common import RESULTS
from bench.report import PAGE, load, render


def test_the_committed_page_is_what_the_results_render() -> None:
    assert PAGE.read_text() == render(load(RESULTS)), "run `python -m bench --report-only`"


def _shown(name: str, body: dict[str, Any], page_cpu: str) -> str:
    cpu = body["machine"]["cpu_model"]
    return name if cpu == page_cpu else f"{name} (on {cpu})"


def _page_cpu(page: str) -> str:
    found = re.search(r"^\| Model name \| (.+) \|$", page, re.MULTILINE)
    assert found, "the page names its machine's CPU"
    return found.group(1)


def test_every_target_of_every_shown_benchmark_is_on_the_page() -> None:
    page = PAGE.read_text()
    for name, body in load(RESULTS).items():
        shown = _shown(name, body, _page_cpu(page))
        for t in body["targets"]:
            assert f"| {shown} | {t['name']} | {t['target']} |" in page, (name, t["name"])


def test_every_embedded_plot_exists_beside_its_results() -> None:
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", PAGE.read_text())
    assert links
    for link in links:
        assert (PAGE.parent / link).resolve().is_file(), link


def test_the_machine_is_described_and_where_the_time_goes_is_said() -> None:
    page = PAGE.read_text()
    cpus = [json.loads(p.read_text())["machine"]["cpu_model"] for p in RESULTS.glob("*.json")]
    assert "## Machine" in page and cpus.count(_page_cpu(page)) == max(map(cpus.count, cpus))
    assert "## Where the time goes" in page and "Inside the gateway:" in page


def test_a_result_from_another_cpu_says_which_and_the_page_describes_the_usual_one() -> None:
    results = load(RESULTS)
    cpus = [body["machine"]["cpu_model"] for body in results.values()]
    most = max(cpus, key=cpus.count)
    first = next(n for n, body in results.items() if body["machine"]["cpu_model"] == most)
    usual = results[first]["machine"]
    other = {**usual, "cpu_model": "Other CPU 9000", "date": "2999-01-01T00:00:00"}
    page = render({**results, first: {**results[first], "machine": other}})
    assert _page_cpu(page) == usual["cpu_model"]  # not the newest: the one most ran on
    assert f"| {first} (on Other CPU 9000) |" in page and "Other CPU 9000" not in _page_cpu(page)


def test_a_result_measured_with_uncommitted_changes_says_so(monkeypatch: Any) -> None:
    status = {"value": ""}

    def run(argv: list[str]) -> str:
        if argv[0] != "git":
            return ""  # lscpu
        return "abc1234\n" if argv[1] == "rev-parse" else status["value"]

    monkeypatch.setattr(common, "_run", run)
    assert common.machine(tiny=True)["commit"] == "abc1234"
    status["value"] = " M gateway/export/triton_config.py\n"
    assert common.machine(tiny=True)["commit"] == "abc1234+uncommitted"
