"""The models beyond the default set, each served by the real Triton on real photos, equal
their reference implementation called in-process (seeded random weights: no download)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
import tritonclient.grpc as grpcclient

from gateway.config import LimitSettings
from gateway.export.derived import derived_repository, set_cpu_runner
from gateway.export.weights import DEFAULT_SEED
from gateway.models.registry import DEFAULT_ENABLED, REGISTRY
from gateway.models.spec import CpuRunner, SearchModel
from gateway.preprocess import prepare_image
from gateway.serving.process import free_port
from gateway.serving.triton import TritonPorts, triton_process
from tests.integration.conftest import RunningTriton
from tests.torch_reference import REAL_PHOTOS, photo_jpeg

ZOO = [m for m in REGISTRY.values() if m.name not in DEFAULT_ENABLED]


def _resnet50(images: np.ndarray) -> np.ndarray:
    keras.utils.set_random_seed(DEFAULT_SEED)
    net = keras.applications.ResNet50(
        weights=None, include_top=False, pooling="avg", input_shape=(224, 224, 3)
    )
    return np.asarray(net(keras.applications.resnet50.preprocess_input(images.astype("float32"))))


def _efficientnetv2_s(images: np.ndarray) -> np.ndarray:
    keras.utils.set_random_seed(DEFAULT_SEED)
    net = keras.applications.EfficientNetV2S(
        weights=None, include_top=False, pooling="avg", input_shape=(224, 224, 3)
    )
    return np.asarray(net(images.astype("float32")))


def _dinov2_small(images: np.ndarray) -> np.ndarray:
    import keras_hub

    keras.utils.set_random_seed(DEFAULT_SEED)
    backbone = keras_hub.models.DINOV2Backbone(  # facebook/dinov2-small's configuration
        patch_size=14, num_layers=12, hidden_dim=384, num_heads=6, intermediate_dim=1536,
        image_shape=(224, 224, 3), position_embedding_shape=(518, 518, 3),
    )  # fmt: skip
    x = (images / 255.0 - (0.485, 0.456, 0.406)) / (0.229, 0.224, 0.225)
    return np.asarray(backbone({"images": x.astype("float32")})[:, 0])


# Model name -> its reference: raw features of uint8 RGB images, before normalisation.
REFERENCES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "resnet50": _resnet50,
    "efficientnetv2_s": _efficientnetv2_s,
    "dinov2_small": _dinov2_small,
}


@pytest.fixture(scope="module")
def zoo_triton(
    test_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningTriton]:
    """The zoo as built, but at fp32: this file checks the architectures; a reduced precision
    the build chose is its trial's business (tests/unit/export/test_runner_choice.py)."""
    ports = TritonPorts(http=free_port(), grpc=free_port(), metrics=free_port())
    served = [m.image_model.name for m in ZOO]
    workdir = tmp_path_factory.mktemp("zoo")
    fp32 = CpuRunner("openvino", "fp32")
    repository = derived_repository(
        test_models, workdir / "repository", served, lambda _, c: set_cpu_runner(c, fp32)
    )
    with triton_process(repository, workdir, ports, served) as process:
        yield RunningTriton(process, ports)


def test_every_zoo_model_has_a_reference_here() -> None:
    assert sorted(REFERENCES) == sorted(m.name for m in ZOO)


@pytest.mark.parametrize("model", ZOO, ids=lambda m: m.name)
def test_served_zoo_model_equals_its_reference_on_real_photos(
    zoo_triton: RunningTriton, model: SearchModel
) -> None:
    spec = model.image_model
    batch = np.stack([
        prepare_image(photo_jpeg(n), [spec], LimitSettings()).inputs[spec.name]
        for n in REAL_PHOTOS
    ])  # fmt: skip
    client = grpcclient.InferenceServerClient(zoo_triton.grpc_url)
    tensor = grpcclient.InferInput(spec.input.name, list(batch.shape), spec.input.dtype)
    tensor.set_data_from_numpy(batch)
    served = client.infer(spec.name, [tensor]).as_numpy(spec.output.name)
    assert served is not None and served.shape == (len(REAL_PHOTOS), model.dim)
    expected = tf.math.l2_normalize(REFERENCES[model.name](batch), axis=-1).numpy()
    assert np.abs(served - expected).max() <= 1e-5
    config = client.get_model_config(spec.name).config
    assert config.parameters["weights_provenance"].string_value == f"random:seed={DEFAULT_SEED}"
