"""Image input: files, bytes and arrays in, BGR ``uint8 (H, W, 3)`` out."""
from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import cv2
import numpy as np

from ._fileio import atomic_write_bytes, read_regular_file
from ._validate import bgr_frame, check_channels, check_frame, describe
from .errors import ImageReadError, InvalidImageError

#: A path, encoded bytes, an array, or a PIL.Image.Image (typed Any: PIL is optional).
ImageSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, np.ndarray, Any]

_JPEG_SOI = b"\xff\xd8"
_JPEG_SOS = b"\xff\xda"
_JPEG_EOI = b"\xff\xd9"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Largest image file read (bytes): far above any camera photo.
MAX_IMAGE_BYTES = 256 * 1024 * 1024
#: Largest image decoded (width x height), read from the header before decoding: a 125 KB
#: PNG of 32000x32000 took 6.1 GB and 19 s to decode. 50 MP is above any camera's photo.
MAX_IMAGE_PIXELS = 50_000_000


def read_image(source: ImageSource, max_pixels: int = MAX_IMAGE_PIXELS, *,
               channels: str = "bgr") -> np.ndarray:
    """Load an image as BGR ``uint8 (H, W, 3)``.

    Parameters
    ----------
    source : path, bytes, ndarray or PIL.Image
        A file path, the encoded bytes of a file (JPEG, PNG, BMP, TIFF, WebP...),
        an array (passed to :func:`to_bgr`), or a ``PIL.Image.Image`` (any mode; its
        pixels are RGB by definition and converted).
    channels : {"bgr", "rgb"}
        Channel order of an ``ndarray`` source. **Arrays are BGR unless you say
        "rgb"** (OpenCV's order; face_recognition, PIL and matplotlib hold RGB, and an
        RGB array read as BGR still "works" but scores about 0.1 lower). Files, bytes and
        PIL images know their own order; this is ignored for them.

    Files, bytes and PIL images get their EXIF orientation applied; an alpha channel is
    dropped; gray and 16-bit images are converted. The input is never modified.
    Files are read only when they are regular files of at most 256 MB (a FIFO or a
    device is refused, not waited on), and decoded only when their header declares at
    most ``max_pixels`` (50 MP by default).

    Raises
    ------
    ImageReadError
        Missing or unreadable file, not a regular file, too large, empty or truncated
        data, undecodable bytes, more pixels than ``max_pixels``.
    InvalidImageError
        An array of an unsupported dtype or shape, or an empty array.

    Examples
    --------
    >>> frame = read_image("tests/data/obama.jpg")
    >>> frame.shape, frame.dtype
    ((1137, 910, 3), dtype('uint8'))
    """
    check_channels(channels)
    if isinstance(source, np.ndarray):
        return to_bgr(source, channels=channels)
    if _is_pil_image(source):
        return _pil_to_bgr(source, max_pixels)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return decode_image(bytes(source), name="image bytes", max_pixels=max_pixels)
    if isinstance(source, (str, os.PathLike)):
        return decode_image(read_image_bytes(source), name=str(source), max_pixels=max_pixels)
    raise InvalidImageError("image must be a path, bytes, numpy array or PIL image, got "
                            f"{describe(source)}")


def _is_pil_image(value: object) -> bool:
    """True for a ``PIL.Image.Image`` (checked without importing PIL, which is optional)."""
    return any(cls.__module__.startswith("PIL.") and cls.__name__ == "Image"
               for cls in type(value).__mro__)


def _pil_to_bgr(image: Any, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """A PIL image as BGR uint8 (H, W, 3), EXIF orientation applied (as for files); one
    larger than ``max_pixels`` is refused before PIL decodes it."""
    from PIL import ImageOps
    width, height = image.size
    if width * height > max_pixels:
        raise ImageReadError(f"PIL image of {width}x{height} pixels is more than the limit of "
                             f"{max_pixels:,} (a decompression bomb, or raise max_pixels)")
    try:
        upright = ImageOps.exif_transpose(image)
        rgb = np.asarray((upright if upright is not None else image).convert("RGB"))
    except (OSError, ValueError) as exc:
        raise ImageReadError(f"PIL image could not be read: {exc}") from exc
    if rgb.size == 0:
        raise InvalidImageError(f"PIL image is empty: size {image.size}")
    return np.ascontiguousarray(rgb[..., ::-1])


def read_image_bytes(path: Union[str, "os.PathLike[str]"]) -> bytes:
    """The raw bytes of an image file (for decoding and hashing from one read).

    Raises
    ------
    ImageReadError
        Missing file, a directory, or any other read error.
    """
    path = Path(path)
    try:
        return read_regular_file(path, MAX_IMAGE_BYTES)
    except FileNotFoundError:
        raise ImageReadError(f"image file not found: {path}") from None
    except IsADirectoryError:
        raise ImageReadError(f"expected an image file, got a directory: {path}") from None
    except OSError as exc:
        raise ImageReadError(f"cannot read image file {path}: {exc}") from exc


def decode_image(data: bytes, name: str = "image bytes",
                 max_pixels: int = MAX_IMAGE_PIXELS, *, exif: bool = True,
                 alpha: bool = False) -> np.ndarray:
    """Decode encoded image bytes to BGR ``uint8 (H, W, 3)`` (see :func:`read_image`), or
    BGRA ``uint8 (H, W, 4)`` with ``alpha`` (opaque where the file has no alpha channel).
    ``exif=False`` leaves the pixels as stored (no EXIF rotation, as PIL's ``Image.open``).

    Images whose header declares more than ``max_pixels`` (width x height; PNG, JPEG, BMP,
    GIF, WebP, TIFF and PNM headers are read) are refused before decoding; other formats
    are capped only by OpenCV's own limit (2^30 pixels)."""
    if len(data) == 0:
        raise ImageReadError(f"{name} is empty (0 bytes)")
    _check_complete(data, name)
    size = _declared_size(data)
    if size is not None and size[0] * size[1] > max_pixels:
        raise ImageReadError(f"{name} declares {size[0]}x{size[1]} pixels, more than the "
                             f"limit of {max_pixels:,} (a decompression bomb, or raise "
                             "max_pixels)")
    flags = cv2.IMREAD_UNCHANGED if alpha else cv2.IMREAD_COLOR
    if not exif:
        flags |= cv2.IMREAD_IGNORE_ORIENTATION
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error as exc:
        raise ImageReadError(f"{name} could not be decoded: "
                             f"{str(exc).strip().splitlines()[-1]}") from None
    if image is None or image.size == 0:
        raise ImageReadError(f"{name} could not be decoded as an image ({len(data)} bytes); "
                             "the file is corrupted or not an image format OpenCV reads")
    return _as_bgra(image) if alpha else image


def _as_bgra(image: np.ndarray) -> np.ndarray:
    """An image decoded as stored (gray, BGR or BGRA; 8 or 16 bits) as BGRA uint8."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:  # 32-bit float EXR/TIFF: 0-1
        image = np.clip(np.asarray(image, np.float32) * 255.0, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGRA), np.uint8)
    if image.shape[2] == 3:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2BGRA), np.uint8)
    return np.ascontiguousarray(image[..., :4])


def _tiff_size(data: bytes) -> Optional[Tuple[int, int]]:
    """(width, height) of the first image of a TIFF file (tags 256 and 257 of IFD0)."""
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if order is None or len(data) < 8:
        return None
    (offset,) = struct.unpack(order + "I", data[4:8])
    if offset + 2 > len(data):
        return None
    (count,) = struct.unpack(order + "H", data[offset:offset + 2])
    found: Dict[int, int] = {}
    for entry in range(min(count, 512)):
        start = offset + 2 + 12 * entry
        if start + 12 > len(data):
            break
        tag, kind = struct.unpack(order + "HH", data[start:start + 4])
        if tag in (256, 257) and kind in (3, 4):
            fmt = order + ("H" if kind == 3 else "I")
            found[tag] = struct.unpack(fmt, data[start + 8:start + 8 + struct.calcsize(fmt)])[0]
    return (found[256], found[257]) if len(found) == 2 else None


def _pnm_size(data: bytes) -> Optional[Tuple[int, int]]:
    """(width, height) of a PBM/PGM/PPM header (``P1``-``P6``: magic, width, height)."""
    fields = []
    for line in data[:1024].splitlines():
        line = line.split(b"#", 1)[0]
        fields += line.split()
        if len(fields) >= 3:
            break
    try:
        return int(fields[1]), int(fields[2])
    except (IndexError, ValueError):
        return None


def _declared_size(data: bytes) -> Optional[Tuple[int, int]]:
    """(width, height) from the header of a PNG, JPEG, BMP, GIF, WebP, TIFF or PNM file,
    else None."""
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return _tiff_size(data)
    if data[:1] == b"P" and data[1:2] in b"123456" and len(data) > 2:
        return _pnm_size(data)
    if data.startswith(_PNG_SIGNATURE) and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:2] == b"BM" and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return abs(width), abs(height)
    if data[:4] == b"GIF8" and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        chunk = data[12:16]
        if chunk == b"VP8X":
            return (int.from_bytes(data[24:27], "little") + 1,
                    int.from_bytes(data[27:30], "little") + 1)
        if chunk == b"VP8L":
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if chunk == b"VP8 ":
            width, height = struct.unpack("<HH", data[26:30])
            return width & 0x3FFF, height & 0x3FFF
    if data.startswith(_JPEG_SOI):
        offset = 2
        while offset + 9 <= len(data):
            if data[offset] != 0xFF:
                return None
            marker = data[offset + 1]
            if marker == 0xFF:  # fill byte
                offset += 1
                continue
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                offset += 2
                continue
            (length,) = struct.unpack(">H", data[offset + 2:offset + 4])
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[offset + 5:offset + 9])
                return width, height
            offset += 2 + length
    return None


def _check_complete(data: bytes, name: str) -> None:
    # Decoders may return a partly grey image for a cut-off file; refuse it instead.
    if data.startswith(_JPEG_SOI):
        last_scan = data.rfind(_JPEG_SOS)
        if data.rfind(_JPEG_EOI) < max(last_scan, 0):
            raise ImageReadError(f"{name} is a truncated JPEG (no end-of-image marker "
                                 "after its last scan)")
    elif data.startswith(_PNG_SIGNATURE):
        if b"IEND" not in data[-64:]:
            raise ImageReadError(f"{name} is a truncated PNG (no IEND chunk)")


def to_bgr(image: np.ndarray, channels: str = "bgr") -> np.ndarray:
    """Convert an image array to BGR ``uint8 (H, W, 3)``.

    Accepts ``uint8`` or ``uint16`` arrays of shape (H, W), (H, W, 1), (H, W, 3)
    (BGR, or RGB with ``channels="rgb"``) or (H, W, 4) (BGRA or RGBA; alpha is
    dropped). 16-bit values are scaled to 8 bit. A BGR ``uint8`` input is returned as
    is (not copied); other inputs are converted into a new array.

    Raises
    ------
    InvalidImageError
        Not an array, an empty array, a float/bool/other dtype, or another shape.
    """
    check_channels(channels)
    if not isinstance(image, np.ndarray):
        raise InvalidImageError(f"image must be a numpy array, got {describe(image)}")
    if image.size == 0:
        raise InvalidImageError(f"image is empty: shape {image.shape}")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise InvalidImageError(
            f"image dtype must be uint8 or uint16, got {image.dtype} (shape {image.shape}); "
            "scale float images to 0-255 and convert with .astype(np.uint8)")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(np.ascontiguousarray(image.reshape(image.shape[:2])),
                            cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        code = cv2.COLOR_RGBA2BGR if channels == "rgb" else cv2.COLOR_BGRA2BGR
        return cv2.cvtColor(np.ascontiguousarray(image), code)
    if image.ndim == 3 and image.shape[2] == 3:
        return bgr_frame(image, "image", channels)
    raise InvalidImageError(f"image must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), "
                            f"got {image.shape}")


def write_image(path: Union[str, "os.PathLike[str]"], image: np.ndarray,
                quality: int = 92) -> Path:
    """Encode a BGR ``uint8 (H, W, 3)`` image by the path's extension and write it atomically.

    Raises
    ------
    InvalidImageError
        ``image`` is not a BGR uint8 frame, or the extension is not a format OpenCV writes.
    """
    image = check_frame(image, "image")
    target = Path(path)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if target.suffix.lower() in (
        ".jpg", ".jpeg") else []
    try:
        ok, encoded = cv2.imencode(target.suffix or ".png", image, params)
    except cv2.error:
        ok = False
    if not ok:
        raise InvalidImageError(f"cannot encode an image as {target.suffix!r} for {target}; "
                                "use .jpg or .png")
    return atomic_write_bytes(target, encoded.tobytes())


def sample_images() -> List[Path]:
    """Paths of the public-domain sample photos shipped with the package (for demos)."""
    folder = Path(__file__).resolve().parent / "samples"
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".png"))


def margin_window(box: Any, margin: float, shape: Tuple[int, ...], *, square: bool = False
                  ) -> Tuple[int, int, int, int]:
    """(left, top, right, bottom) int pixels of ``box`` (x1, y1, x2, y2) grown by ``margin``
    x its width and height per side (``square``: x its longer side on every side), clipped
    to an image of ``shape`` (H, W, ...)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    pad_x, pad_y = (margin * max(w, h),) * 2 if square else (margin * w, margin * h)
    return (int(max(0.0, x1 - pad_x)), int(max(0.0, y1 - pad_y)),
            int(min(shape[1], x2 + pad_x)), int(min(shape[0], y2 + pad_y)))


def crop_around(image: np.ndarray, box: np.ndarray, margin: float = 0.6) -> np.ndarray:
    """Copy of the region of ``box`` (x1, y1, x2, y2) grown by ``margin`` x its size per side."""
    image = check_frame(image, "image")
    left, top, right, bottom = margin_window(box, margin, image.shape)
    return np.ascontiguousarray(image[top:bottom, left:right])
