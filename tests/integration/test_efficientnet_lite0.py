"""EfficientNet-Lite0 served by the real Triton equals the PyTorch reference in its package."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from gateway.config import LimitSettings
from gateway.models.registry import EFFICIENTNET_LITE0
from gateway.preprocess import prepare_image
from tests.integration.conftest import RunningTriton
from tests.torch_reference import REAL_PHOTOS, lite0_reference, photo_jpeg

SPEC = EFFICIENTNET_LITE0.image_model


@pytest.fixture(scope="module")
def photo_batch() -> np.ndarray:
    """Real photos prepared exactly as the gateway prepares uploads."""
    limits = LimitSettings()
    return np.stack(
        [prepare_image(photo_jpeg(n), [SPEC], limits).inputs[SPEC.name] for n in REAL_PHOTOS]
    )


def test_served_efficientnet_lite0_equals_the_pytorch_reference_on_real_photos(
    triton: RunningTriton, photo_batch: np.ndarray
) -> None:
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    tensor = grpcclient.InferInput(SPEC.input.name, list(photo_batch.shape), SPEC.input.dtype)
    tensor.set_data_from_numpy(photo_batch)
    served = client.infer(SPEC.name, [tensor]).as_numpy(SPEC.output.name)
    assert served is not None and served.shape == (len(REAL_PHOTOS), 1280)

    reference, _ = lite0_reference(photo_batch)
    assert np.abs(served - reference).max() <= 1e-4
    np.testing.assert_allclose(np.linalg.norm(served, axis=1), 1.0, atol=1e-5)


def test_the_packaged_weights_are_real_imagenet_weights(photo_batch: np.ndarray) -> None:
    # The PyTorch classifier head on the same features: chelsea is a cat, coffee espresso.
    _, labels = lite0_reference(photo_batch)
    by_photo = dict(zip(REAL_PHOTOS, labels, strict=True))
    assert by_photo["chelsea"] in {281, 282, 283, 284, 285}  # tabby .. Egyptian cat
    assert by_photo["coffee"] == 967  # espresso
