"""`python -m bench`: runs the benchmarks against a stack it starts, or one given by URL."""

from __future__ import annotations

import argparse
import importlib
import signal
import tempfile
import time
import traceback
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import Any, Literal

from bench.common import RESULTS, Context, Stack, served_weights
from bench.report import write_page
from gateway.serving.process import lower_own_priority
from gateway.serving.stack_settings import get_stack_settings

Needs = Literal["none", "milvus", "triton", "gateway"]
# name -> (module, what it needs running); the order is the order they run in.
BENCHMARKS: dict[str, tuple[str, Needs]] = {
    "throughput": ("bench.throughput", "gateway"),
    "mixed": ("bench.mixed", "gateway"),
    "batching": ("bench.batching", "triton"),
    "quality": ("bench.quality", "triton"),
    "cutoff": ("bench.quality", "triton"),
    # In-process runtimes on the local copy of the models (its provenance.json: the weights).
    "precision": ("bench.precision", "none"),
    "vector_search": ("bench.vector_search", "milvus"),
    "vector_search_1m": ("bench.vector_search", "milvus"),
    "soak": ("bench.mixed", "gateway"),
    "library": ("bench.library", "triton"),
    "peers": ("bench.peers", "gateway"),
}
# Long runs that only run when asked for by name.
NOT_DEFAULT = ("vector_search_1m", "soak", "library", "peers")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    add = parser.add_argument
    # fmt: off
    add("--tiny", action="store_true", help="seconds per benchmark (smoke run)")
    add("--report-only", action="store_true",
        help="measure nothing: regenerate docs/performance.md from bench/results")
    add("--only", nargs="+", choices=list(BENCHMARKS), metavar="NAME",
        help=f"run only these: {', '.join(BENCHMARKS)}")
    add("--gateway-url", help="a running gateway (then give the others too)")
    add("--triton-grpc", help="HOST:PORT of the gateway's Triton (gRPC)")
    add("--triton-http", help="HOST:PORT of Triton's HTTP API (statistics)")
    add("--milvus-uri", help="the gateway's Milvus, e.g. http://host:19530")
    add("--gateway-pid", type=int, help="the gateway's pid (RSS, py-spy)")
    add("--model-repository", type=Path, help="local copy of the served models "
        "(default: model_repository/ if built, else build/test-models)")
    add("--results-dir", type=Path, help="where to write (default bench/results, or its tiny/)")
    # fmt: on
    args = parser.parse_args(argv)
    given = [args.gateway_url, args.triton_grpc, args.milvus_uri]
    if any(given) and not all(given):
        parser.error("--gateway-url, --triton-grpc and --milvus-uri go together")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.report_only:
        print(f"[bench] wrote {write_page(args.results_dir or RESULTS)}", flush=True)
        return 0
    names = args.only or [n for n in BENCHMARKS if n not in NOT_DEFAULT]
    names = [n for n in BENCHMARKS if n in names]
    results_dir = args.results_dir or (RESULTS / "tiny" if args.tiny else RESULTS)
    # Ctrl-C and SIGTERM unwind the stack below, so every server started here is stopped.
    signal.signal(signal.SIGTERM, _raise_exit)
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="pic-search-bench-") as scratch, ExitStack() as servers:
        workdir = Path(scratch)
        stack = _stack(args, names, workdir, servers)
        # The load generator's clients (the direct baselines too) run where the gateway
        # runs, below Triton: both paths of every comparison share one CPU priority.
        lower_own_priority(get_stack_settings().nice_below_triton)
        ctx = Context(stack, args.tiny, results_dir, workdir)
        ctx.weights = served_weights(stack)
        for name in names:
            ctx.log(f"== {name} ==")
            started = time.monotonic()
            try:
                module: Any = importlib.import_module(BENCHMARKS[name][0])
                (getattr(module, f"run_{name}", None) or module.run)(ctx)
                ctx.log(f"{name} done in {time.monotonic() - started:.0f} s")
            except Exception:
                traceback.print_exc()
                failed.append(name)
    if not args.tiny and args.results_dir is None:
        write_page(results_dir)
    if failed:
        print(f"[bench] FAILED: {', '.join(failed)}", flush=True)
        return 1
    print(f"[bench] results in {results_dir}", flush=True)
    return 0


def _stack(args: argparse.Namespace, names: list[str], workdir: Path, servers: ExitStack) -> Stack:
    from bench.stack import default_repository, local_stack

    repository = (args.model_repository or default_repository()).resolve()
    if args.gateway_url:
        return Stack(args.gateway_url.rstrip("/"), args.triton_grpc, args.triton_http,
                     args.milvus_uri, repository, args.gateway_pid)  # fmt: skip
    needs = {BENCHMARKS[n][1] for n in names}
    if needs == {"none"}:
        return Stack("", "", None, "", repository)
    return servers.enter_context(
        local_stack(
            workdir,
            repository,
            need_triton="triton" in needs,
            need_gateway="gateway" in needs,
            say=lambda m: print(f"[bench] {m}", flush=True),
        )
    )


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)
