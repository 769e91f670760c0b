"""clip_text at the length it needs: the configs, the runner's ragged batches, the trim."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.export import triton_config
from gateway.export.cpu_runtimes import stack_ragged
from gateway.models.clip_tokenizer import (
    END_TOKEN_ID,
    START_TOKEN_ID,
    ClipTokenizer,
    trim_to_longest,
)
from gateway.models.registry import triton_model, triton_models

CLIP_TEXT = triton_model("clip_text")
CLIP_IMAGE = triton_model("clip_image")


def test_clip_text_takes_any_length_up_to_77_and_only_the_cpu_runner_batches_ragged() -> None:
    assert CLIP_TEXT.input.dims == (-1,) and CLIP_TEXT.input.largest == (77,)
    cpu = triton_config.build_config(CLIP_TEXT, "cpu", "random:seed=1")
    onnx = triton_config.build_config(CLIP_TEXT, "onnx", "random:seed=1")
    assert list(cpu.input[0].dims) == [-1] == list(onnx.input[0].dims)
    assert cpu.input[0].allow_ragged_batch
    # ONNX Runtime's backend would concatenate ragged rows flat: equal shapes only there.
    assert not onnx.input[0].allow_ragged_batch
    for config in (cpu, onnx):  # warm-up needs a concrete shape: the longest
        assert list(config.model_warmup[0].inputs["input_ids"].dims) == [77]


@pytest.mark.parametrize("spec", triton_models(), ids=lambda s: s.name)
def test_image_models_keep_fixed_shapes(spec: object) -> None:
    config = triton_config.build_config(spec, "cpu", "random:seed=1")  # type: ignore[arg-type]
    if spec is not CLIP_TEXT:
        assert -1 not in config.input[0].dims and not config.input[0].allow_ragged_batch


def test_tensorrt_gets_one_profile_from_one_row_to_the_largest_batch_and_length() -> None:
    assert triton_config.optimization_profile(CLIP_TEXT) == {
        "trt_profile_min_shapes": "input_ids:1x1",
        "trt_profile_opt_shapes": "input_ids:16x16",
        "trt_profile_max_shapes": "input_ids:64x77",
    }
    assert triton_config.optimization_profile(CLIP_IMAGE)["trt_profile_max_shapes"] == (
        "images:32x224x224x3"
    )
    config = triton_config.build_config(CLIP_TEXT, "onnx", "random:seed=1")
    (tensorrt,) = config.optimization.execution_accelerators.gpu_execution_accelerator
    assert tensorrt.parameters["trt_profile_max_shapes"] == "input_ids:64x77"


def test_a_ragged_batch_is_padded_with_zeros_to_its_longest_row_in_order() -> None:
    a = np.array([[1, 2, 3]], np.int32)
    b = np.array([[4, 5, 6, 7, 8], [9, 9, 9, 9, 9]], np.int32)
    stacked = stack_ragged([a, b])
    assert stacked.tolist() == [[1, 2, 3, 0, 0], [4, 5, 6, 7, 8], [9, 9, 9, 9, 9]]
    images = [np.ones((1, 2, 2, 3), np.uint8)] * 2  # equal shapes: a plain concatenation
    assert stack_ragged(images).shape == (2, 2, 2, 3)


def test_trim_keeps_every_column_up_to_the_longest_end_token() -> None:
    tokenizer = ClipTokenizer.from_package()
    full = tokenizer.tokenize(["a dog", "a photo of a dog on a beach"])
    trimmed = tokenizer.tokenize(["a dog", "a photo of a dog on a beach"], trim=True)
    longest = int(np.argmax(full[1])) + 1
    assert trimmed.shape == (2, longest) and trimmed[1, -1] == END_TOKEN_ID
    np.testing.assert_array_equal(trimmed, full[:, :longest])
    assert not full[:, longest:].any()


def test_trim_counts_token_zero_as_a_token() -> None:
    # id 0 is "!" (a byte token): zeros inside a row are not padding.
    ids = np.array([[START_TOKEN_ID, 0, 0, END_TOKEN_ID, 0, 0]], np.int32)
    assert trim_to_longest(ids).tolist() == [[START_TOKEN_ID, 0, 0, END_TOKEN_ID]]


def test_trim_of_the_maximum_length_keeps_77_and_of_nothing_is_nothing() -> None:
    tokenizer = ClipTokenizer.from_package()
    assert tokenizer.tokenize(["cat " * 100], trim=True).shape == (1, 77)
    assert trim_to_longest(np.zeros((0, 77), np.int32)).shape == (0, 77)
