"""Read astronomical and ordinary images into one float32 array with metadata.

Every reader returns an :class:`Image`: linear float32 pixels (``H x W`` mono or
``H x W x 3`` RGB), a no-data mask, the FITS header and WCS when there is one,
and the source path. Pixel coordinates everywhere in dsodetect are numpy array
indices (0-based, row 0 first), which is also what ``astropy.wcs.WCS``
expects with ``origin=0``; FITS images are therefore never flipped.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "Image",
    "ImageReadError",
    "read_image",
    "file_stem",
    "iter_image_paths",
    "IMAGE_SUFFIXES",
    "MAX_PIXELS",
]

#: File suffixes (lower case) that :func:`iter_image_paths` picks up in folders.
IMAGE_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".jpg", ".jpeg", ".png", ".tif", ".tiff")

#: Largest image accepted, in pixels (a 200 Mpx mosaic). Protects a laptop from
#: a corrupt header claiming a gigantic array.
MAX_PIXELS = 200_000_000


class ImageReadError(Exception):
    """An image file could not be read. ``str()`` is one line: ``path: reason``."""

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass
class Image:
    """An image in linear float32 units with its metadata.

    Attributes
    ----------
    data : ndarray
        ``(H, W)`` or ``(H, W, 3)`` float32, no NaNs (no-data pixels are filled
        with the median of the valid ones and flagged in ``mask``).
    mask : ndarray of bool
        ``(H, W)``, True where there is no data (NaN, blank).
    path : Path or None
    header : astropy.io.fits.Header or None
    wcs : astropy.wcs.WCS or None
        Celestial WCS when the header holds a valid one.
    stretched : bool
        True when the pixels are already display-stretched (8-bit JPEG/PNG as
        written by smart-telescope apps); False for linear data (FITS, 16-bit).
    meta : dict
        Format, original dtype, Bayer pattern, etc.
    stem : str or None
        Output file stem when it must differ from the file's own (two inputs
        sharing one, e.g. ``M42.fits`` beside ``M42.jpg``); see :attr:`name`.
    """

    data: np.ndarray
    mask: np.ndarray | None = None
    path: Path | None = None
    header: object | None = None
    wcs: object | None = None
    stretched: bool = False
    meta: dict = field(default_factory=dict)
    stem: str | None = None
    _shown: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.mask is None:
            self.mask = np.zeros(self.data.shape[:2], dtype=bool)

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)``."""
        return self.data.shape[:2]

    @property
    def name(self) -> str:
        """Output stem: :attr:`stem` if set, else the file's (``M42_stack`` for ``M42_stack.fits``) or ``"image"``."""
        if self.stem:
            return self.stem
        return "image" if self.path is None else file_stem(self.path)

    def gray(self) -> np.ndarray:
        """Luminance as a float32 ``(H, W)`` array (mean of R, G, B)."""
        if self.data.ndim == 2:
            return self.data
        return self.data.mean(axis=2, dtype=np.float32)

    def display(self) -> np.ndarray:
        """Pixels in [0, 1] for viewing or for networks trained on app JPEGs.

        Computed once per image (every output writer and the live view ask for
        it) and returned read-only: copy it before drawing on it.
        """
        from .stretch import auto_stretch

        if self._shown is None:
            if self.stretched:
                shown = np.clip(self.data, 0.0, 1.0)
            else:
                # Unlinked channels neutralise the sky's colour cast, as the apps do.
                shown = auto_stretch(self.data, mask=self.mask, linked=False)
            shown.flags.writeable = False
            self._shown = shown
        return self._shown


def file_stem(path) -> str:
    """Output stem of an image file: ``M42`` for ``M42.fits``, ``M42.jpg`` and ``M42.fits.gz``."""
    name = Path(path).name
    for suffix in (".fits.gz", ".fit.gz"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem


def _finish(data, path, *, header=None, stretched=False, meta=None, min_valid=0.001):
    """Validate pixels, turn NaN/inf into masked pixels, build the Image."""
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[:, :, 0]
    if data.ndim not in (2, 3) or (data.ndim == 3 and data.shape[2] != 3):
        raise ImageReadError(path, f"unsupported pixel array shape {data.shape}")
    if data.shape[0] < 8 or data.shape[1] < 8:
        raise ImageReadError(path, f"image too small ({data.shape[1]}x{data.shape[0]} px)")
    bad = ~np.isfinite(data)
    if data.ndim == 3:
        bad = bad.any(axis=2)
    n_valid = bad.size - int(bad.sum())
    if n_valid < max(1, min_valid * bad.size):
        raise ImageReadError(path, "no valid pixels (all NaN or infinite)")
    if n_valid < bad.size:
        fill = np.median(data[~bad], axis=0)
        data = data.copy()
        data[bad] = fill
    wcs = _celestial_wcs(header) if header is not None else None
    return Image(data=data, mask=bad, path=Path(path) if path is not None else None,
                 header=header, wcs=wcs, stretched=stretched, meta=meta or {})


def _celestial_wcs(header):
    """The header's celestial WCS, or None when it has none or it is broken."""
    from astropy.wcs import WCS, FITSFixedWarning

    if "CTYPE1" not in header or "CTYPE2" not in header:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(header, naxis=2).celestial
    except Exception:
        return None
    return wcs if wcs.has_celestial else None


def _check_size(path, width, height, channels=1):
    if width <= 0 or height <= 0:
        raise ImageReadError(path, f"empty image ({width}x{height})")
    if width * height > MAX_PIXELS:
        raise ImageReadError(
            path, f"image too large ({width}x{height} = {width * height / 1e6:.0f} Mpx, "
                  f"limit {MAX_PIXELS / 1e6:.0f} Mpx)")


# --------------------------------------------------------------------------- FITS
def _read_fits(path: Path) -> Image:
    from astropy.io import fits
    from astropy.io.fits.hdu.base import BITPIX2DTYPE

    try:
        with warnings.catch_warnings():
            # Truncation is reported as our one-line error below, not as a warning.
            warnings.simplefilter("ignore")
            hdul = fits.open(path, memmap=False, lazy_load_hdus=True)
    except OSError as exc:
        raise ImageReadError(path, f"not a readable FITS file ({_short(exc)})") from None
    with hdul:
        try:
            hdu = next((h for h in hdul if h.is_image and h.header.get("NAXIS", 0) >= 2), None)
        except Exception as exc:
            raise ImageReadError(path, f"corrupt FITS structure ({_short(exc)})") from None
        if hdu is None:
            raise ImageReadError(path, "FITS file holds no 2-D or 3-D image")
        header = hdu.header
        shape = tuple(header.get(f"NAXIS{i}", 0) for i in range(header["NAXIS"], 0, -1))
        # astropy drops BZERO/BSCALE from the header once it scales the data.
        scaling = {"bitpix": header.get("BITPIX"), "bzero": header.get("BZERO", 0.0),
                   "bscale": header.get("BSCALE", 1.0)}
        npix = int(np.prod(shape[-2:]))
        _check_size(path, shape[-1], shape[-2])
        if header["NAXIS"] > 3 or (header["NAXIS"] == 3 and 3 not in (shape[0], shape[2])):
            raise ImageReadError(path, f"unsupported FITS data shape {shape}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                raw = hdu.data  # applies BZERO / BSCALE
        except Exception as exc:
            raise ImageReadError(path, f"FITS data unreadable, file truncated? ({_short(exc)})") from None
        if raw is None or raw.size < npix:
            raise ImageReadError(path, "FITS data missing or truncated")
        header = header.copy()
    data = np.asarray(raw, dtype=np.float32)
    meta = {"format": "fits", "dtype": BITPIX2DTYPE.get(scaling["bitpix"], str(raw.dtype)), **scaling}
    if data.ndim == 3:
        # FITS colour cubes are (3, H, W); some tools write (H, W, 3).
        if data.shape[0] == 3:
            data = np.moveaxis(data, 0, -1)
    elif "BAYERPAT" in header or "COLORTYP" in header:
        pattern = str(header.get("BAYERPAT", header.get("COLORTYP", ""))).strip().upper()
        if pattern in BAYER_PATTERNS:
            xoff = int(header.get("XBAYROFF", 0)) % 2
            yoff = int(header.get("YBAYROFF", 0)) % 2
            data = debayer(data, pattern, xoff=xoff, yoff=yoff)
            meta["bayer"] = pattern
    return _finish(data, path, header=header, stretched=False, meta=meta)


#: Bayer patterns as written in FITS ``BAYERPAT`` (top-left 2x2 cell, row 0 first).
BAYER_PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")


def debayer(mosaic: np.ndarray, pattern: str, xoff: int = 0, yoff: int = 0) -> np.ndarray:
    """Demosaic a raw colour-filter-array frame with OpenCV.

    Parameters
    ----------
    mosaic : ndarray
        ``(H, W)`` raw sensor values.
    pattern : {'RGGB', 'BGGR', 'GRBG', 'GBRG'}
        Colour of the 2x2 cell at array position (0, 0), row 0 first.
    xoff, yoff : int
        ``XBAYROFF`` / ``YBAYROFF``: shift of the pattern origin.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32 RGB.
    """
    import cv2

    pattern = pattern.upper()
    if pattern not in BAYER_PATTERNS:
        raise ValueError(f"unknown Bayer pattern {pattern!r}")
    cell = np.array(list(pattern)).reshape(2, 2)
    cell = np.roll(cell, (-yoff, -xoff), axis=(0, 1))
    pattern = "".join(cell.ravel())
    # Demosaic through an exact 16-bit copy; the float range is restored after.
    lo, hi = float(np.nanmin(mosaic)), float(np.nanmax(mosaic))
    scale = 65535.0 / (hi - lo) if hi > lo else 1.0
    u16 = np.round((np.nan_to_num(mosaic, nan=lo) - lo) * scale).astype(np.uint16)
    rgb = cv2.cvtColor(u16, _OPENCV_BAYER_TO_RGB[pattern]).astype(np.float32)
    return rgb / scale + lo


def _opencv_bayer_codes():
    """Map FITS patterns to OpenCV codes.

    OpenCV names its Bayer codes after the second row's pixels, so the FITS
    pattern RGGB is OpenCV's ``BayerBG``; tests check this on a synthetic
    mosaic rather than trusting the naming.
    """
    import cv2

    return {
        "RGGB": cv2.COLOR_BayerBG2RGB,
        "BGGR": cv2.COLOR_BayerRG2RGB,
        "GRBG": cv2.COLOR_BayerGB2RGB,
        "GBRG": cv2.COLOR_BayerGR2RGB,
    }


class _LazyCodes(dict):
    def __missing__(self, key):
        self.update(_opencv_bayer_codes())
        return dict.__getitem__(self, key)


_OPENCV_BAYER_TO_RGB = _LazyCodes()


# ------------------------------------------------------------------ JPEG/PNG/TIFF
def _read_raster(path: Path) -> Image:
    from PIL import Image as PILImage, UnidentifiedImageError

    PILImage.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with PILImage.open(path) as im:
            width, height = im.size
            fmt = im.format
            _check_size(path, width, height)
            if fmt == "JPEG":
                im.load()  # raises on truncated files
                arr = np.asarray(im.convert("RGB") if im.mode not in ("L", "RGB") else im)
                return _finish(arr.astype(np.float32) / 255.0, path, stretched=True,
                               meta={"format": "jpeg", "dtype": "uint8"})
    except ImageReadError:
        raise
    except PILImage.DecompressionBombError:
        raise ImageReadError(path, "image too large (decompression bomb guard)") from None
    except UnidentifiedImageError:
        raise ImageReadError(path, "not an image (unrecognised format)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(path, f"corrupt or truncated image ({_short(exc)})") from None
    if fmt == "TIFF":
        return _read_tiff(path)
    return _read_cv2(path, fmt)


def _read_cv2(path: Path, fmt: str) -> Image:
    """PNG and other formats: OpenCV keeps 16-bit colour, which PIL does not."""
    import cv2

    buf = np.fromfile(path, dtype=np.uint8)
    arr = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ImageReadError(path, f"corrupt or truncated {fmt} image")
    if arr.ndim == 3:
        arr = arr[:, :, :3][:, :, ::-1]  # BGR(A) -> RGB
    return _from_integer(arr, path, fmt.lower())


def _read_tiff(path: Path) -> Image:
    import tifffile

    try:
        arr = tifffile.imread(path)
    except Exception as exc:
        raise ImageReadError(path, f"corrupt or truncated TIFF ({_short(exc)})") from None
    arr = np.squeeze(arr)
    if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[2] not in (3, 4):
        arr = np.moveaxis(arr, 0, -1)
    if arr.ndim == 3:
        arr = arr[:, :, :3]
    return _from_integer(arr, path, "tiff")


def _from_integer(arr, path, fmt):
    meta = {"format": fmt, "dtype": str(arr.dtype)}
    if np.issubdtype(arr.dtype, np.integer):
        full = np.iinfo(arr.dtype).max
        # 8-bit files are display-ready app output; 16-bit ones are linear stacks.
        return _finish(arr.astype(np.float32) / full, path, stretched=arr.dtype == np.uint8, meta=meta)
    return _finish(arr, path, stretched=False, meta=meta)


# --------------------------------------------------------------------------- API
def _short(exc) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) < 120 else text[:117] + "..."


def _is_fits(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith((".fits", ".fit", ".fts", ".fits.gz", ".fit.gz"))


def read_image(path) -> Image:
    """Read a FITS, JPEG, PNG or TIFF file.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Image

    Raises
    ------
    ImageReadError
        With a one-line reason (missing, empty, truncated, not an image,
        absurdly large, no valid pixels).
    """
    path = Path(path)
    if not path.exists():
        raise ImageReadError(path, "no such file")
    if path.is_dir():
        raise ImageReadError(path, "is a folder, not an image")
    if path.stat().st_size == 0:
        raise ImageReadError(path, "empty file (0 bytes)")
    if _is_fits(path):
        return _read_fits(path)
    with open(path, "rb") as fh:
        magic = fh.read(9)
    if magic.startswith(b"SIMPLE  ="):
        return _read_fits(path)
    return _read_raster(path)


def iter_image_paths(inputs, recursive: bool = False):
    """Expand files and folders into image paths, in a stable order.

    Folders contribute their files with an image suffix; files named
    explicitly are always kept (so that a bad one is reported, not skipped).
    """
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            pattern = "**/*" if recursive else "*"
            for p in sorted(item.glob(pattern)):
                if p.is_file() and p.name.lower().endswith(IMAGE_SUFFIXES):
                    yield p
        else:
            yield item


def from_array(data, *, stretched: bool = False, name: str | None = None) -> Image:
    """Wrap an in-memory array as an :class:`Image` (NaNs are masked)."""
    return _finish(np.asarray(data), Path(name or "<array>"), stretched=stretched,
                   meta={"format": "array"})

