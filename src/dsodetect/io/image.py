"""Read astronomical and ordinary images into one float32 array with metadata.

Every reader returns an :class:`Image`: linear float32 pixels (``H x W`` mono or
``H x W x 3`` RGB), a no-data mask, the FITS header and WCS when there is one,
and the source path. Pixel coordinates everywhere in dsodetect are numpy array
indices (0-based, row 0 first), which is also what ``astropy.wcs.WCS``
expects with ``origin=0``; FITS images are therefore never flipped.
"""

from __future__ import annotations

import io
import os
import stat
import struct
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
    "max_image_bytes",
    "display_path",
]

#: File suffixes (lower case) that :func:`iter_image_paths` picks up in folders.
IMAGE_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".jpg", ".jpeg", ".png", ".tif", ".tiff")

#: Largest image accepted, in pixels (a 200 Mpx mosaic). Protects a laptop from
#: a corrupt header claiming a gigantic array.
MAX_PIXELS = 200_000_000

#: Ceiling of the default memory budget of one decoded image (float32, all channels).
_BUDGET_CEILING = 2 << 30

#: Longest FITS header accepted, in 2880-byte blocks (36 cards each: 36000 cards).
_MAX_HEADER_BLOCKS = 1000


def max_image_bytes() -> int:
    """Memory budget of one decoded image, in bytes (float32, all channels).

    ``$DSODETECT_MAX_IMAGE_MB`` when set, else an eighth of the physical
    memory, at most 2 GiB: the pipeline holds several working copies of the
    image (stretch, star removal, masks), so the decoded image itself must
    stay a small part of the memory. A 200 Mpx mono mosaic (0.8 GB) and a
    100 Mpx RGB one (1.2 GB) fit on a 16 GB laptop; a 14000 x 14000 RGB PNG
    (2.35 GB) does not, whatever its compressed size.
    """
    env = os.environ.get("DSODETECT_MAX_IMAGE_MB", "").strip()
    if env:
        try:
            mb = float(env)
        except ValueError:
            mb = 0.0
        if mb > 0 and mb == mb:
            return int(mb * (1 << 20))
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        total = 0
    return min(_BUDGET_CEILING, total // 8) if total > 0 else _BUDGET_CEILING


def display_path(path) -> str:
    """A path as one printable line: bytes that are not UTF-8 and control characters escaped.

    File names on Linux are bytes; Python keeps the undecodable ones as lone
    surrogates, which cannot be printed or written as UTF-8. A name holding
    the byte 0xff is shown as ``bad\\xff.jpg`` (a backslash escape), a newline
    as ``\\n``.
    """
    text = os.fsdecode(path) if isinstance(path, bytes) else str(path)
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if any(c < " " or c == "\x7f" for c in text):
        text = "".join(c if c >= " " and c != "\x7f" else repr(c)[1:-1] for c in text)
    return text


class ImageReadError(Exception):
    """An image file could not be read. ``str()`` is one line: ``path: reason``.

    ``path`` is the path as given (it may hold undecodable bytes as
    surrogates, so that it can be opened again); the message shows it with
    :func:`display_path`, so it can always be printed.
    """

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = " ".join(str(reason).split())
        super().__init__(f"{display_path(self.path)}: {self.reason}")


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
        from .stretch import color_stretch

        if self._shown is None:
            if self.stretched:
                shown = np.clip(self.data, 0.0, 1.0)
            else:
                # Sky neutralised, then one linked stretch: the objects keep their colour, as in
                # the apps' JPEGs (an unlinked stretch turns a red nebula lavender-grey).
                shown = color_stretch(self.data, self.mask)
            shown.flags.writeable = False
            self._shown = shown
        return self._shown

    def flattened(self, *, degree: int = 2) -> "Image":
        """This image with the sky's gradient (light pollution, moon, vignetting) subtracted.

        Linear data only (:func:`dsodetect.io.background.flatten_background`): a
        stretched JPEG's gradient went through the app's curve and is no longer
        additive, so a stretched image is returned as it is.
        """
        if self.stretched:
            return self
        from dataclasses import replace

        from .background import flatten_background

        return replace(self, data=flatten_background(self.data, self.mask, degree=degree),
                       meta={**self.meta, "flattened": f"sky gradient removed (polynomial degree {degree})"})

    def display_rgb(self) -> np.ndarray:
        """:meth:`display` as ``(H, W, 3)``: mono data repeated to three channels (what networks and PNGs take)."""
        shown = self.display()
        return np.repeat(shown[:, :, None], 3, axis=2) if shown.ndim == 2 else shown


def file_stem(path) -> str:
    """Output stem of an image file: ``M42`` for ``M42.fits``, ``M42.jpg`` and ``M42.fits.gz``."""
    name = Path(path).name
    for suffix in (".fits.gz", ".fit.gz"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem


def _finish(data, path, *, header=None, stretched=False, meta=None, min_valid=0.001, finite=False):
    """Validate pixels, turn NaN/inf into masked pixels, build the Image.

    ``finite``: the pixels came from integers, so no NaN check is needed
    (it would cost a boolean copy of the whole image).
    """
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[:, :, 0]
    if data.ndim not in (2, 3) or (data.ndim == 3 and data.shape[2] != 3):
        raise ImageReadError(path, f"unsupported pixel array shape {data.shape}")
    if data.shape[0] < 8 or data.shape[1] < 8:
        raise ImageReadError(path, f"image too small ({data.shape[1]}x{data.shape[0]} px)")
    if finite:
        bad = np.zeros(data.shape[:2], dtype=bool)
    else:
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
    meta = meta if meta is not None else {}
    wcs = _celestial_wcs(header, meta) if header is not None else None
    return Image(data=data, mask=bad, path=Path(path) if path is not None else None,
                 header=header, wcs=wcs, stretched=stretched, meta=meta)


def _celestial_wcs(header, meta=None):
    """The header's celestial WCS, or None when it has none or it is broken or implausible.

    A WCS refused by :func:`~dsodetect.io.headers.header_wcs_problem` (a
    ``CRVAL1 = 'abc'`` that astropy would read as 0, a 1e-12 deg/px scale)
    leaves its reason in ``meta["wcs_rejected"]``, for the solver to report.
    """
    from astropy.wcs import WCS, FITSFixedWarning

    from .headers import header_wcs_problem

    if "CTYPE1" not in header or "CTYPE2" not in header:
        return None
    problem = header_wcs_problem(header)
    wcs = None
    if problem is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FITSFixedWarning)
                wcs = WCS(header, naxis=2).celestial
        except Exception as exc:
            problem = f"astropy cannot build it ({type(exc).__name__})"
        else:
            if not wcs.has_celestial:
                return None
            problem = header_wcs_problem(header, wcs)
    if problem is not None:
        if meta is not None:
            meta["wcs_rejected"] = problem
        return None
    return wcs


def _check_size(path, width, height, channels=1, budget=None):
    """Refuse an empty image, one over :data:`MAX_PIXELS`, or one whose decoded
    float32 pixels (all ``channels``) exceed the memory ``budget`` (bytes) --
    before anything is decoded."""
    if width <= 0 or height <= 0:
        raise ImageReadError(path, f"empty image ({width}x{height})")
    if width * height > MAX_PIXELS:
        raise ImageReadError(
            path, f"image too large ({width}x{height} = {width * height / 1e6:.0f} Mpx, "
                  f"limit {MAX_PIXELS / 1e6:.0f} Mpx)")
    budget = max_image_bytes() if budget is None else budget
    need = int(width) * int(height) * int(channels) * 4
    if need > budget:
        raise ImageReadError(
            path, f"image too large for memory ({width}x{height}x{channels} needs "
                  f"{need / 2**30:.2f} GiB as float32, budget {budget / 2**30:.2f} GiB; "
                  f"raise DSODETECT_MAX_IMAGE_MB to allow it)")


# --------------------------------------------------------------------------- FITS
_FITS_BLOCK = 2880
_BITPIX = (8, 16, 32, 64, -32, -64)


def _header_int(header, key, default=0) -> int:
    value = header.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{key} = {value!r} is not a count")
    return int(value)


def _hdu_layout(header, first: bool) -> tuple[int, tuple, bool]:
    """``(data bytes, shape as numpy orders it, is an image HDU)`` from a raw FITS header."""
    bitpix = header.get("BITPIX")
    if bitpix not in _BITPIX:
        raise ValueError(f"BITPIX = {bitpix!r} is not a FITS pixel type")
    naxis = _header_int(header, "NAXIS")
    if naxis > 999:
        raise ValueError(f"NAXIS = {naxis}")
    dims = [_header_int(header, f"NAXIS{i}") for i in range(1, naxis + 1)]
    count = int(np.prod(dims, dtype=object)) if dims else 0
    gcount = _header_int(header, "GCOUNT", 1)
    pcount = _header_int(header, "PCOUNT", 0)
    size = abs(bitpix) // 8 * gcount * (pcount + count) if naxis else 0
    xtension = str(header.get("XTENSION", "")).strip().upper()
    if xtension == "BINTABLE" and header.get("ZIMAGE") is True:
        # A tile-compressed image (fpack, astropy's CompImageHDU): its image
        # shape is in ZNAXISn; the table (size above) is what is stored.
        znaxis = _header_int(header, "ZNAXIS")
        if znaxis > 999:
            raise ValueError(f"ZNAXIS = {znaxis}")
        zdims = [_header_int(header, f"ZNAXIS{i}") for i in range(1, znaxis + 1)]
        return size, tuple(reversed(zdims)), znaxis >= 2
    is_image = naxis >= 2 and (first or xtension == "IMAGE")
    return size, tuple(reversed(dims)), is_image


def _image_channels(shape, header) -> int:
    if len(shape) == 3:
        return 3
    pattern = str(header.get("BAYERPAT", header.get("COLORTYP", ""))).strip().upper()
    return 3 if pattern in BAYER_PATTERNS else 1


def _check_fits_shape(path, shape, header, budget) -> None:
    """Refuse unsupported or oversized data from the header alone, before any pixel is read."""
    if len(shape) > 3 or (len(shape) == 3 and 3 not in (shape[0], shape[2])):
        raise ImageReadError(path, f"unsupported FITS data shape {shape}")
    h, w = (shape[1], shape[2]) if len(shape) == 3 and shape[0] == 3 else (shape[0], shape[1])
    _check_size(path, w, h, _image_channels(shape, header), budget)


def _walk_fits(path: Path, fh, budget: int, *, inflate: bool):
    """Check every HDU header up to the first image HDU, before astropy parses anything.

    Each header must start where the previous HDU's data ends (``SIMPLE``
    first, then ``XTENSION``), reach its ``END`` card within
    :data:`_MAX_HEADER_BLOCKS` blocks and hold sane numbers (``BITPIX`` a FITS
    type, ``NAXIS`` <= 999, every ``NAXISn`` a count: astropy itself loops
    ``NAXIS`` times, so ``NAXIS = 2**40`` would hang it); the image HDU must
    fit the memory ``budget``.

    ``inflate=False``: ``fh`` is a plain FITS file; data units are skipped by
    seeking, and None is returned. ``inflate=True``: ``fh`` is gzip; the
    stream is inflated only as far as the headers promise, and the bytes up to
    the end of the first image HDU are returned -- a decompression bomb
    (gigabytes of padding where a header should be, a header that never
    ends, a header promising more than memory) is refused after a few
    kilobytes, and nothing past the image is ever inflated.
    """
    import gzip
    import zlib

    from astropy.io import fits

    src = gzip.GzipFile(fileobj=fh, mode="rb") if inflate else fh
    out = bytearray()

    def read(n: int) -> bytes:
        parts, left = [], n
        while left > 0:
            chunk = src.read(min(left, 16 << 20))
            if not chunk:
                break
            parts.append(chunk)
            left -= len(chunk)
        return b"".join(parts)

    try:
        first = True
        while True:
            header_bytes = bytearray()
            for i in range(_MAX_HEADER_BLOCKS):
                block = read(_FITS_BLOCK)
                if i == 0:
                    if first and not block.startswith(b"SIMPLE  ="):
                        raise ImageReadError(path, "not a FITS file (does not start with SIMPLE)")
                    if not first and not block.startswith(b"XTENSION="):
                        raise ImageReadError(path, "FITS file holds no 2-D or 3-D image"
                                             + (" (garbage where the next HDU header should be)" if block else ""))
                if len(block) < _FITS_BLOCK:
                    raise ImageReadError(path, "FITS header truncated")
                header_bytes += block
                if any(block[k:k + 80].rstrip() == b"END" for k in range(0, _FITS_BLOCK, 80)):
                    break
            else:
                raise ImageReadError(path, f"FITS header has no END card in its first {_MAX_HEADER_BLOCKS} "
                                           f"blocks (not a FITS file, or a decompression bomb)")
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    header = fits.Header.fromstring(bytes(header_bytes))
                size, shape, is_image = _hdu_layout(header, first)
            except Exception as exc:  # ValueError, KeyError, astropy's VerifyError, ...
                raise ImageReadError(path, f"corrupt FITS header ({_short(exc)})") from None
            if is_image:
                _check_fits_shape(path, shape, header, budget)
            padded = -(-size // _FITS_BLOCK) * _FITS_BLOCK
            if inflate:
                out += header_bytes
                if len(out) + padded > budget:
                    raise ImageReadError(path, f"FITS data too large for memory (an HDU of "
                                               f"{padded / 2**30:.2f} GiB inflated, budget {budget / 2**30:.2f} GiB)")
                data = read(padded)
                out += data
                if is_image or len(data) < padded:  # the image, or the end of the stream (truncated)
                    return bytes(out)
            else:
                if is_image:
                    return None
                src.seek(padded, 1)  # a truncated file ends the walk: astropy reports it
            first = False
    except (OSError, EOFError, zlib.error) as exc:
        raise ImageReadError(path, f"corrupt gzip stream ({_short(exc)})" if inflate
                             else f"read error ({_short(exc)})") from None


def _read_fits(path: Path, fh, budget: int) -> Image:
    from astropy.io import fits
    from astropy.io.fits.hdu.base import BITPIX2DTYPE

    head = fh.read(4)
    fh.seek(0)
    if head[:2] == b"\x1f\x8b":
        fh = io.BytesIO(_walk_fits(path, fh, budget, inflate=True))
    elif head[:3] == b"BZh" or head == b"PK\x03\x04":
        # astropy would inflate these whole, without any bound.
        raise ImageReadError(path, "bzip2- or zip-compressed FITS is not supported (use gzip or none)")
    else:
        _walk_fits(path, fh, budget, inflate=False)
        fh.seek(0)
    try:
        with warnings.catch_warnings():
            # Truncation is reported as our one-line error below, not as a warning.
            warnings.simplefilter("ignore")
            hdul = fits.open(fh, memmap=False, lazy_load_hdus=True)
    except (OSError, ValueError, TypeError, IndexError, KeyError) as exc:
        raise ImageReadError(path, f"not a readable FITS file ({_short(exc)})") from None
    with hdul:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                hdu = next((h for h in hdul if h.is_image and h.header.get("NAXIS", 0) >= 2), None)
        except Exception as exc:
            raise ImageReadError(path, f"corrupt FITS structure ({_short(exc)})") from None
        if hdu is None:
            raise ImageReadError(path, "FITS file holds no 2-D or 3-D image")
        header = hdu.header
        try:
            shape = tuple(_header_int(header, f"NAXIS{i}") for i in range(_header_int(header, "NAXIS"), 0, -1))
        except ValueError as exc:
            raise ImageReadError(path, f"corrupt FITS header ({_short(exc)})") from None
        # astropy drops BZERO/BSCALE from the header once it scales the data.
        scaling = {"bitpix": header.get("BITPIX"), "bzero": header.get("BZERO", 0.0),
                   "bscale": header.get("BSCALE", 1.0)}
        npix = int(np.prod(shape[-2:]))
        _check_fits_shape(path, shape, header, budget)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                raw = hdu.data  # applies BZERO / BSCALE
        except MemoryError:
            raise
        except Exception as exc:
            raise ImageReadError(path, f"FITS data unreadable, file truncated? ({_short(exc)})") from None
        if raw is None or raw.size < npix:
            raise ImageReadError(path, "FITS data missing or truncated")
        header = header.copy()
    data = np.asarray(raw, dtype=np.float32)
    del raw
    meta = {"format": "fits", "dtype": BITPIX2DTYPE.get(scaling["bitpix"], str(data.dtype)), **scaling}
    if data.ndim == 3:
        # FITS colour cubes are (3, H, W); some tools write (H, W, 3).
        if data.shape[0] == 3:
            data = np.moveaxis(data, 0, -1)
    elif "BAYERPAT" in header or "COLORTYP" in header:
        pattern = str(header.get("BAYERPAT", header.get("COLORTYP", ""))).strip().upper()
        if pattern in BAYER_PATTERNS:
            xoff, yoff = (_offset(header, k) for k in ("XBAYROFF", "YBAYROFF"))
            data = debayer(data, pattern, xoff=xoff, yoff=yoff)
            meta["bayer"] = pattern
    return _finish(data, path, header=header, stretched=False, meta=meta)


def _offset(header, key) -> int:
    """``XBAYROFF``/``YBAYROFF`` modulo 2 (0 when missing or not a number)."""
    try:
        value = float(header.get(key, 0))
    except (TypeError, ValueError):
        return 0
    return int(value) % 2 if np.isfinite(value) else 0


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
#: Leading bytes of the raster formats read; anything else is "not an image".
_RASTER_MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"II*\x00", "TIFF"),
                 (b"MM\x00*", "TIFF"), (b"II+\x00", "TIFF"), (b"MM\x00+", "TIFF"))

#: PIL modes that decode to one channel; every other mode gives RGB (alpha dropped).
_MONO_MODES = ("1", "L", "I", "F", "I;16", "I;16B", "I;16L", "I;16N")


def _read_raster(path: Path, fh, budget: int) -> Image:
    """JPEG, PNG or TIFF, told by their first bytes (never by trying every decoder).

    ``PIL.Image.open`` is not used: it tries every registered plugin on the
    bytes, and some packages replace it (ultralytics' version tries to install
    a HEIF plugin on any unidentified file). The JPEG plugin is called
    directly, PNG sizes are read from the IHDR chunk, TIFF goes to tifffile.
    """
    head = fh.read(16)
    fh.seek(0)
    fmt = next((name for magic, name in _RASTER_MAGIC if head.startswith(magic)), None)
    if fmt is None:
        raise ImageReadError(path, "not an image (unrecognised format; FITS, JPEG, PNG and TIFF are read)")
    if fmt == "TIFF":
        return _read_tiff(path, fh, budget)
    if fmt == "PNG":
        ihdr = fh.read(33)
        fh.seek(0)
        if len(ihdr) < 26 or ihdr[12:16] != b"IHDR":
            raise ImageReadError(path, "corrupt or truncated PNG image (no IHDR header)")
        width, height = struct.unpack(">II", ihdr[16:24])
        _check_size(path, width, height, 1 if ihdr[25] == 0 else 3, budget)
        return _read_cv2(path, fh, "PNG")
    return _read_jpeg(path, fh, budget)


def _read_jpeg(path: Path, fh, budget: int) -> Image:
    from PIL import JpegImagePlugin

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with JpegImagePlugin.jpeg_factory(fh) as im:
                width, height = im.size
                _check_size(path, width, height, 1 if im.mode in _MONO_MODES else 3, budget)
                im.load()  # raises on truncated files
                arr = np.asarray(im.convert("RGB") if im.mode not in ("L", "RGB") else im)
    except (ImageReadError, MemoryError):
        raise
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError, struct.error, ...
        raise ImageReadError(path, f"corrupt or truncated JPEG image ({_short(exc)})") from None
    return _from_integer(arr, path, "jpeg")  # PIL's own buffer is freed by now


def _read_cv2(path: Path, fh, fmt: str) -> Image:
    """PNG and other formats: OpenCV keeps 16-bit colour, which PIL does not.

    OpenCV decodes from the bytes in memory, never from the path (it cannot
    open names that are not valid UTF-8).
    """
    import cv2

    buf = np.frombuffer(fh.read(), dtype=np.uint8)
    try:
        arr = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise ImageReadError(path, f"corrupt or truncated {fmt} image ({_short(exc)})") from None
    del buf
    if arr is None or arr.ndim not in (2, 3):
        raise ImageReadError(path, f"corrupt or truncated {fmt} image")
    if arr.ndim == 3:
        arr = arr[:, :, :3][:, :, ::-1]  # BGR(A) -> RGB
    return _from_integer(arr, path, fmt.lower())


def _read_tiff(path: Path, fh, budget: int) -> Image:
    import logging

    import tifffile

    # tifffile logs every oddity of a corrupt file; the one-line ImageReadError says it.
    log = logging.getLogger("tifffile")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        return _decode_tiff(path, fh, budget, tifffile)
    finally:
        log.setLevel(level)


def _decode_tiff(path: Path, fh, budget: int, tifffile) -> Image:
    try:
        with tifffile.TiffFile(fh) as tif:
            series = tif.series[0]
            shape = tuple(int(n) for n in series.shape)
            if len(shape) < 2:
                raise ImageReadError(path, f"unsupported TIFF data shape {shape}")
            # The whole first series is decoded, planes and pages included.
            count = int(np.prod(shape, dtype=np.int64))
            if count == 0:
                raise ImageReadError(path, f"empty image (TIFF of shape {shape})")
            need = count * 4
            if need > budget:
                raise ImageReadError(path, f"image too large for memory (TIFF of shape {shape} needs "
                                           f"{need / 2**30:.2f} GiB as float32, budget {budget / 2**30:.2f} GiB)")
            arr = series.asarray()
    except (ImageReadError, MemoryError):
        raise
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
        # In place: one float32 copy of the image, not two.
        out = arr.astype(np.float32)
        del arr
        np.divide(out, np.float32(full), out=out)
        # 8-bit files are display-ready app output; 16-bit ones are linear stacks.
        return _finish(out, path, stretched=meta["dtype"] == "uint8", meta=meta, finite=True)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.floating):
        raise ImageReadError(path, f"unsupported pixel type {arr.dtype}")
    return _finish(arr, path, stretched=False, meta=meta)


# --------------------------------------------------------------------------- API
def _short(exc) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text if len(text) < 120 else text[:117] + "..."


def _is_fits(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith((".fits", ".fit", ".fts", ".fits.gz", ".fit.gz"))


def read_image(path, *, max_bytes: int | None = None) -> Image:
    """Read a FITS, JPEG, PNG or TIFF file.

    Parameters
    ----------
    path : str, bytes or Path
        Any file name the operating system accepts, valid UTF-8 or not: the
        file is opened by Python and decoded from the open file or its bytes.
    max_bytes : int, optional
        Memory budget of the decoded image (float32, all channels); default
        :func:`max_image_bytes`. Checked from the header, before decoding.

    Returns
    -------
    Image

    Raises
    ------
    ImageReadError
        With a one-line reason (missing, not a regular file, permission
        denied, empty, truncated, not an image, absurdly large or too large
        for memory, a decompression bomb, no valid pixels). Nothing else:
        whatever a decoder raises on hostile bytes is reported this way.
    """
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    path = Path(path)
    budget = max_image_bytes() if max_bytes is None else int(max_bytes)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ImageReadError(path, "no such file") from None
    except (OSError, ValueError) as exc:  # permission denied on a folder, name too long, NUL byte
        raise ImageReadError(path, f"cannot access the file ({_os_reason(exc)})") from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageReadError(path, "is a folder, not an image")
    if not stat.S_ISREG(st.st_mode):
        raise ImageReadError(path, "not a regular file (device, pipe or socket)")
    if st.st_size == 0:
        raise ImageReadError(path, "empty file (0 bytes)")
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise ImageReadError(path, f"cannot open the file ({_os_reason(exc)})") from None
    with fh:
        try:
            magic = fh.read(9)
            fh.seek(0)
            if _is_fits(path) or magic.startswith(b"SIMPLE  ="):
                return _read_fits(path, fh, budget)
            return _read_raster(path, fh, budget)
        except ImageReadError:
            raise
        except MemoryError:
            raise ImageReadError(path, "out of memory while decoding the image") from None
        except OSError as exc:
            raise ImageReadError(path, f"read error ({_os_reason(exc)})") from None
        except Exception as exc:  # a decoder's own error on hostile bytes: still one line
            raise ImageReadError(path, f"undecodable image ({type(exc).__name__}: {_short(exc)})") from None


def _os_reason(exc) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or _short(exc) if isinstance(exc, OSError) else _short(exc)


def iter_image_paths(inputs, recursive: bool = False):
    """Expand files and folders into image paths, in a stable order.

    Folders contribute their files with an image suffix; files named
    explicitly are always kept (so that a bad one is reported, not skipped).
    """
    for item in inputs:
        item = Path(os.fsdecode(item)) if isinstance(item, bytes) else Path(item)
        try:
            is_dir = item.is_dir()
        except (OSError, ValueError):  # a name too long, a NUL: read_image reports it
            is_dir = False
        if not is_dir:
            yield item
            continue
        pattern = "**/*" if recursive else "*"
        try:
            found = sorted(item.glob(pattern))
        except OSError:  # the folder vanished or cannot be listed: report it as a file
            yield item
            continue
        for p in found:
            try:
                wanted = p.name.lower().endswith(IMAGE_SUFFIXES) and p.is_file()
            except OSError:
                wanted = False
            if wanted:
                yield p


def from_array(data, *, stretched: bool = False, name: str | None = None) -> Image:
    """Wrap an in-memory array as an :class:`Image` (NaNs are masked)."""
    return _finish(np.asarray(data), Path(name or "<array>"), stretched=stretched,
                   meta={"format": "array"})

