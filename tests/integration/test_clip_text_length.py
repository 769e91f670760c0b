"""`clip_text` at the length it needs: every runtime, and Triton's ragged batches, give the
77-token result within 1e-5 at fp32 for short, long and maximum-length queries (bf16 and
int8 within a tolerance of their own).

CLIP's text tower is causal and pools at the end token, so the positions after the longest
query in a batch change nothing; these tests prove it on the exported model, not on Keras.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from gateway.export import cpu_runtimes, triton_config
from gateway.export.int8_export import export_int8
from gateway.models.clip_tokenizer import ClipTokenizer, trim_to_longest
from gateway.models.registry import triton_model
from gateway.serving.triton import model_statistics
from tests.integration.conftest import RunningTriton

CLIP_TEXT = triton_model("clip_text")
FP32 = 1e-5
# bf16 keeps 8 bits of mantissa: a trimmed batch takes other kernels' summation order, so
# rows of unit vectors may move by about 2**-8 per element. Dynamic int8 measures each
# batch's activation range as it runs, so a query alone and in a padded batch differ
# (measured: 2.3e-3 per element at most). Rankings are judged by the build's trial.
REDUCED = 2e-2
QUERIES = (
    "a dog",  # short: 4 tokens with start and end
    "a photo of a red bicycle leaning against a brick wall in the rain at dusk, seen from "
    "across a narrow street with parked cars and a bakery",  # long: about 30 tokens
    "cat " * 100,  # cut at the maximum: 77 tokens, end token last
)


@pytest.fixture(scope="module")
def full_length_ids() -> np.ndarray:
    ids = ClipTokenizer.from_package().tokenize(list(QUERIES))
    assert ids[2, -1] == ids.max(), "the longest query fills all 77 positions"
    return ids


@pytest.fixture(scope="module")
def int8_dir(test_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The text tower's int8 file as the build writes it (kept in the repository only where
    its trial chose int8)."""
    folder = tmp_path_factory.mktemp("clip_text_int8")
    export_int8(test_models / CLIP_TEXT.name / "1" / "model.onnx", CLIP_TEXT, folder)
    return folder


def _runner(
    test_models: Path,
    runtime: cpu_runtimes.Runtime,
    precision: cpu_runtimes.Precision,
    version_dir: Path | None = None,
) -> cpu_runtimes.Runner:
    version_dir = version_dir or test_models / CLIP_TEXT.name / "1"
    return cpu_runtimes.load_runner(
        runtime, precision, version_dir, CLIP_TEXT.input.name, CLIP_TEXT.output.name
    )


def _offered(runtime: cpu_runtimes.Runtime) -> list[cpu_runtimes.Precision]:
    return list(cpu_runtimes.offered_precisions(runtime, cpu_runtimes.cpu_flags()))


@pytest.mark.parametrize(
    ("runtime", "precision"),
    [(r, p) for r in cpu_runtimes.RUNTIMES for p in _offered(r)],
)
def test_each_runtime_runs_a_query_at_its_own_length_as_at_77(
    test_models: Path,
    full_length_ids: np.ndarray,
    runtime: cpu_runtimes.Runtime,
    precision: cpu_runtimes.Precision,
    request: pytest.FixtureRequest,
) -> None:
    int8 = request.getfixturevalue("int8_dir") if precision == "int8" else None
    run = _runner(test_models, runtime, precision, int8)
    tolerance = FP32 if precision == "fp32" else REDUCED
    expected = run(full_length_ids)
    for row, query in enumerate(QUERIES):
        alone = trim_to_longest(full_length_ids[row : row + 1])
        assert alone.shape[1] == int(np.argmax(full_length_ids[row])) + 1
        got = run(alone)
        assert np.abs(got - expected[row]).max() <= tolerance, query[:20]
    # Short and long together run at the long one's length, each row as at 77.
    two = trim_to_longest(full_length_ids[:2])
    assert two.shape[1] < 77
    assert np.abs(run(two) - expected[:2]).max() <= tolerance


def test_the_runner_pads_a_ragged_batch_to_its_longest(
    test_models: Path, full_length_ids: np.ndarray
) -> None:
    run = _runner(test_models, "openvino", "fp32")
    rows = [trim_to_longest(full_length_ids[i : i + 1]) for i in range(len(QUERIES))]
    assert len({r.shape[1] for r in rows}) == 3
    got = run(cpu_runtimes.stack_ragged(rows))
    assert np.abs(got - run(full_length_ids)).max() <= FP32


def _infer(url: str, ids: np.ndarray) -> np.ndarray:
    client = grpcclient.InferenceServerClient(url)
    tensor = grpcclient.InferInput(CLIP_TEXT.input.name, list(ids.shape), "INT32")
    tensor.set_data_from_numpy(np.ascontiguousarray(ids))
    result = client.infer(CLIP_TEXT.name, [tensor]).as_numpy(CLIP_TEXT.output.name)
    assert result is not None
    return result


def test_triton_batches_queries_of_different_lengths_together_exactly(
    triton: RunningTriton, test_models: Path, full_length_ids: np.ndarray
) -> None:
    """Within 1e-5 where the build serves fp32; where its trial chose a reduced precision,
    within that one's tolerance (the fp32 equality of ragged batches is proven in-process
    above)."""
    served = triton_config.built_cpu_runner(test_models / CLIP_TEXT.name).precision
    tolerance = FP32 if served == "fp32" else REDUCED
    expected = _infer(triton.grpc_url, full_length_ids)
    rows = [trim_to_longest(full_length_ids[i : i + 1]) for i in range(len(QUERIES))] * 8
    stats = model_statistics(f"127.0.0.1:{triton.ports.http}", CLIP_TEXT.name)
    executions_before = int(stats["execution_count"])  # type: ignore[call-overload]
    with ThreadPoolExecutor(max_workers=len(rows)) as pool:
        got = list(pool.map(lambda ids: _infer(triton.grpc_url, ids), rows))
    stats = model_statistics(f"127.0.0.1:{triton.ports.http}", CLIP_TEXT.name)
    executions = int(stats["execution_count"]) - executions_before  # type: ignore[call-overload]
    assert executions < len(rows), "requests of different lengths never batched together"
    for i, vector in enumerate(got):
        assert np.abs(vector[0] - expected[i % len(QUERIES)]).max() <= tolerance
