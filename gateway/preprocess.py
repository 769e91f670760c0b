"""Uploaded bytes -> validated picture -> one uint8 [224, 224, 3] RGB input per model + thumbnail.

Pure CPU work, done once per upload; the caller runs it in a pool sized to the cores.
Pillow does the decoding and resizing, so the results match the references the models were
built against (Keras' `load_img` for VGG16, OpenAI CLIP's torchvision transform).
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError

from gateway.config import LimitSettings
from gateway.errors import (
    BadInputError,
    CorruptImageError,
    InvalidImageError,
    TooLargeError,
    ValidationError,
)
from gateway.formats import ALLOWED_FORMATS, OPENERS, looks_like_allowed_image
from gateway.models.spec import ImagePreprocess, TritonModelSpec

THUMBNAIL_SIZE = 256
THUMBNAIL_QUALITY = 85

Box = tuple[float, float, float, float]
_RESAMPLE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}
_DRAFTABLE = ("JPEG", "MPO")  # pillow-heif's draft would swap in an embedded thumbnail
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
# What Pillow and its plugins raise on damaged data once a format has been recognised.
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    zlib.error,
)
# Same table as `ImageOps.exif_transpose`.
_ORIENTATIONS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class PreparedImage:
    """Everything ingest and search need from one upload."""

    inputs: dict[str, npt.NDArray[np.uint8]]  # Triton model name -> [224, 224, 3] RGB
    # Longest side <= THUMBNAIL_SIZE, no EXIF, ICC or comments; None when not asked for.
    thumbnail_jpeg: bytes | None
    width: int  # as displayed, after EXIF orientation
    height: int
    format: str  # Pillow's name: "JPEG", "PNG", "WEBP", "HEIF", "AVIF", "MPO", ...


def prepare_image(
    data: bytes,
    specs: Sequence[TritonModelSpec],
    limits: LimitSettings,
    thumbnail: bool = True,
) -> PreparedImage:
    """Validates and decodes `data` once, then builds every image model's input, and the
    thumbnail when `thumbnail` (ingest stores it; a search query has no use for it).

    Specs without image preprocessing (text models) are skipped. Raises a `PicSearchError`
    subclass with a specific `code` for anything that is not a usable image.
    """
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Someone flipped a process-wide flag: truncated uploads would be indexed half grey.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    _check_file_size(data, limits)
    preprocesses = {s.name: s.preprocess for s in specs if s.preprocess is not None}
    need_short = max((p.size for p in preprocesses.values()), default=0)
    img = _open(data, limits)
    image_format = str(img.format)
    stored_size = img.size
    _check_dimensions(stored_size, limits)
    box: Box = (0.0, 0.0, float(stored_size[0]), float(stored_size[1]))
    try:
        if image_format in _DRAFTABLE:
            # The thumbnail's scale even without one: a query then gets exactly the inputs
            # its file got when indexed, so searching with an indexed file finds it at 1.0.
            box = _draft(img, need_short, max(need_short, THUMBNAIL_SIZE)) or box
        img.load()
        rgb = to_rgb(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooLargeError(str(exc), code="too_many_pixels") from exc
    except _DECODE_ERRORS as exc:
        raise CorruptImageError(f"the image cannot be decoded: {exc}") from exc

    # Read after `load()`: the TIFF plugin applies and drops the tag while loading, and
    # pillow-heif applies HEIF's own rotation, so whatever tag is left has not been applied.
    # Transposed here rather than by `ImageOps.exif_transpose`, which also rewrites the EXIF
    # block (and can fail on a damaged one): only the pixels and the draft box need turning.
    method = _ORIENTATIONS.get(_exif_orientation(img))
    width, height = stored_size
    if method is not None:
        box = _transposed_box(box, rgb.size, method)
        rgb = rgb.transpose(method)
        if method in _SWAPS_AXES:
            width, height = height, width

    inputs = {name: model_input(rgb, p, box) for name, p in preprocesses.items()}
    small = _thumbnail_jpeg(rgb, box, (width, height)) if thumbnail else None
    return PreparedImage(inputs, small, width, height, image_format)


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB showing the same picture."""
    if img.mode.startswith("I;16") or img.mode in ("I", "F"):
        # Pillow's own conversion clips these to 0..255 instead of scaling them.
        return Image.fromarray(_to_uint8(np.asarray(img)), "L").convert("RGB")
    if img.mode in _ALPHA_MODES or "transparency" in img.info:
        # Transparent pixels hold arbitrary colours (often black): composite the way a browser
        # shows the picture on a white page, so logos and cut-outs embed as people see them.
        rgba = img.convert("LA").convert("RGBA") if img.mode == "La" else img.convert("RGBA")
        rgb = Image.new("RGB", rgba.size, (255, 255, 255))
        rgb.paste(rgba, mask=rgba.getchannel("A"))
        return rgb
    if img.mode == "RGB":
        return img
    try:
        return img.convert("RGB")  # L, 1, P, CMYK (Adobe-inverted undone on load), YCbCr, LAB
    except ValueError as exc:
        raise InvalidImageError(
            f"unsupported pixel mode {img.mode}", code="unsupported_image"
        ) from exc


def model_input(
    rgb: Image.Image, preprocess: ImagePreprocess, box: Box | None = None
) -> npt.NDArray[np.uint8]:
    """One model's [size, size, 3] uint8 input. `box` is the region of `rgb` holding the
    whole picture (a JPEG draft decode can end in a partial pixel); default: all of it."""
    box = box or (0.0, 0.0, float(rgb.width), float(rgb.height))
    size = preprocess.size
    resample = _RESAMPLE[preprocess.interpolation]
    if preprocess.resize == "direct":
        # Keras' load_img: one antialiased resize, aspect ratio ignored.
        out = rgb.resize((size, size), resample, box=box, reducing_gap=None)
    else:
        # torchvision Resize(size) then CenterCrop(size), as OpenAI CLIP's `_transform`;
        # sizes come from the picture's true size so a draft decode crops the same pixels.
        width, height = box[2] - box[0], box[3] - box[1]
        short, long = min(width, height), max(width, height)
        new_long = int(size * long / short)
        new_w, new_h = (size, new_long) if width <= height else (new_long, size)
        resized = rgb.resize((new_w, new_h), resample, box=box, reducing_gap=None)
        # Python's round (half to even), as torchvision's `int(round(...))`.
        top = round((new_h - size) / 2.0)
        left = round((new_w - size) / 2.0)
        out = resized.crop((left, top, left + size, top + size))
    return np.asarray(out, dtype=np.uint8)


def _open(data: bytes, limits: LimitSettings) -> ImageFile.ImageFile:
    """Reads the header only: format, size, mode, metadata."""
    try:
        return Image.open(io.BytesIO(data), formats=OPENERS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own guard, at twice Image.MAX_IMAGE_PIXELS: our limit is the lower one.
        raise TooLargeError(
            f"the image has more than {limits.max_pixels} pixels", code="too_many_pixels"
        ) from exc
    except (UnidentifiedImageError, *_DECODE_ERRORS) as exc:
        if looks_like_allowed_image(data):
            raise CorruptImageError("the image data is damaged or truncated") from exc
        raise InvalidImageError(
            f"not an image in a supported format ({', '.join(ALLOWED_FORMATS)})",
            code="unsupported_image",
        ) from exc


def _check_file_size(data: bytes, limits: LimitSettings) -> None:
    if not data:
        raise BadInputError("the file is empty", code="empty_file")
    if len(data) > limits.max_upload_bytes:
        raise TooLargeError(
            f"the file is {len(data)} bytes; the limit is {limits.max_upload_bytes}",
            code="file_too_large",
        )


def _check_dimensions(size: tuple[int, int], limits: LimitSettings) -> None:
    """Runs on the header's size, before a single pixel is decoded."""
    width, height = size
    if width * height > limits.max_pixels:
        raise TooLargeError(
            f"the image is {width}x{height} = {width * height} pixels; "
            f"the limit is {limits.max_pixels}",
            code="too_many_pixels",
        )
    short, long = min(width, height), max(width, height)
    if short > 0 and long / short > limits.max_aspect_ratio:
        raise ValidationError(
            f"the image is {width}x{height}; the aspect ratio limit is "
            f"{limits.max_aspect_ratio:g}:1",
            code="bad_aspect_ratio",
        )
    if long > limits.max_side:
        raise TooLargeError(
            f"the image is {width}x{height}; the longest side may be {limits.max_side}",
            code="image_too_large",
        )
    if short < limits.min_side:
        raise ValidationError(
            f"the image is {width}x{height}; the shortest side must be at least {limits.min_side}",
            code="image_too_small",
        )


def _draft(img: Image.Image, need_short: int, need_long: int) -> Box | None:
    """Lets libjpeg decode at 1/8, 1/4 or 1/2 scale (several times faster) when the result
    still covers every output without upscaling: the crops need the shortest side >= their
    size, the thumbnail the longest side >= its size. Returns the picture's box in the draft."""
    width, height = img.size
    short, long = min(width, height), max(width, height)
    for scale in (8, 4, 2):
        if -(-short // scale) >= need_short and -(-long // scale) >= need_long:
            # Pillow picks the largest power of two <= min(w // rw, h // rh): exactly `scale`.
            drafted = img.draft("RGB", (width // scale, height // scale))
            return drafted[1] if drafted else None
    return None


def _exif_orientation(img: Image.Image) -> int:
    try:
        value = img.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:
        return 1  # a broken EXIF block should not reject a picture that decodes
    return value if isinstance(value, int) else 1


_SWAPS_AXES = {
    Image.Transpose.TRANSPOSE,
    Image.Transpose.ROTATE_270,
    Image.Transpose.TRANSVERSE,
    Image.Transpose.ROTATE_90,
}
_POINT_MAPS: dict[Image.Transpose, Callable[[float, float, int, int], tuple[float, float]]] = {
    Image.Transpose.FLIP_LEFT_RIGHT: lambda x, y, w, h: (w - x, y),
    Image.Transpose.FLIP_TOP_BOTTOM: lambda x, y, w, h: (x, h - y),
    Image.Transpose.ROTATE_180: lambda x, y, w, h: (w - x, h - y),
    Image.Transpose.ROTATE_90: lambda x, y, w, h: (y, w - x),  # counter-clockwise
    Image.Transpose.ROTATE_270: lambda x, y, w, h: (h - y, x),  # clockwise
    Image.Transpose.TRANSPOSE: lambda x, y, w, h: (y, x),
    Image.Transpose.TRANSVERSE: lambda x, y, w, h: (h - y, w - x),
}


def _transposed_box(box: Box, size: tuple[int, int], method: Image.Transpose) -> Box:
    """Where `box` of an image of `size` lands once the image is transposed by `method`."""
    point = _POINT_MAPS[method]
    x0, y0 = point(box[0], box[1], *size)
    x1, y1 = point(box[2], box[3], *size)
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _thumbnail_jpeg(rgb: Image.Image, box: Box, size: tuple[int, int]) -> bytes:
    width, height = size
    scale = min(1.0, THUMBNAIL_SIZE / max(width, height))
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    thumb = rgb.resize(target, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
    # Pillow copies `info` into resized images and its JPEG writer keeps the comment from it.
    thumb.info = {}
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=THUMBNAIL_QUALITY)
    return out.getvalue()


def _to_uint8(arr: npt.NDArray[np.generic]) -> npt.NDArray[np.uint8]:
    """16-bit and 32-bit integer and float samples -> 0..255, scaled rather than clipped."""
    if arr.dtype.kind == "f":
        values = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        low, high = float(values.min()), float(values.max())
        if low >= 0.0 and high <= 1.0:  # the usual convention for float pictures
            scaled: npt.NDArray[np.uint8] = np.rint(values * 255.0).astype(np.uint8)
            return scaled
        return _stretch(values, low, high)
    wide = arr.astype(np.int64)
    low, high = int(wide.min()), int(wide.max())
    if low >= 0 and high <= 0xFFFF:  # 16-bit samples, also when Pillow holds them in "I"
        rounded: npt.NDArray[np.uint8] = ((wide + 128) // 257).astype(np.uint8)
        return rounded
    return _stretch(wide.astype(np.float64), low, high)


def _stretch(values: npt.NDArray[np.float64], low: float, high: float) -> npt.NDArray[np.uint8]:
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    scale = 255.0 / (high - low)
    stretched: npt.NDArray[np.uint8] = np.rint((values - low) * scale).astype(np.uint8)
    return stretched
