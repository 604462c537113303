"""Synthetic smart-telescope stacks and a toy detector for the live-session tests.

A stack of integration ``t`` holds a faint extended object (Gaussian) at the
frame centre, a second one off-centre and a few stars, over a sky whose noise
falls as ``1/sqrt(t)``: the objects' S/N grows as ``sqrt(t)``, as in a real
session. ``ToyDetector`` stands in for the real methods (any Detector works).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from dsodetect.detection import Detection

SHAPE = (240, 320)


def stack_array(seconds: float, *, shape=SHAPE, seed: int = 0, amplitude: float = 2.0,
                second_object: bool = True) -> np.ndarray:
    """Linear float32 stack: sky 100, noise 40/sqrt(seconds/10), objects of ``amplitude``."""
    rng = np.random.default_rng(seed)
    h, w = shape
    y, x = np.mgrid[0:h, 0:w]
    img = np.full(shape, 100.0)
    img += amplitude * np.exp(-((x - w / 2) ** 2 + (y - h / 2) ** 2) / (2 * 14.0 ** 2))
    if second_object:
        img += amplitude * 1.5 * np.exp(-((x - w * 0.2) ** 2 + (y - h * 0.25) ** 2) / (2 * 9.0 ** 2))
    for sx, sy in [(40, 200), (250, 60), (290, 190), (120, 110)]:
        img += 400 * np.exp(-((x - sx) ** 2 + (y - sy) ** 2) / (2 * 1.2 ** 2))
    img += rng.normal(0, 40.0 / np.sqrt(seconds / 10.0), shape)
    return img.astype(np.float32)


def write_stack(path, seconds: float, *, atomic: bool = True, **kw) -> Path:
    """Write a FITS stack with STACKCNT x EXPTIME = ``seconds`` (via a temp name + rename)."""
    from astropy.io import fits

    path = Path(path)
    hdr = fits.Header()
    hdr["EXPTIME"] = 10.0
    hdr["STACKCNT"] = int(round(seconds / 10.0))
    tmp = path.with_name(f".{path.name}.part") if atomic else path
    fits.PrimaryHDU(stack_array(seconds, **kw), header=hdr).writeto(tmp, overwrite=True)
    if atomic:
        os.replace(tmp, path)
    return path


class ToyDetector:
    """Extended-object detector for tests: sep.extract on a star-removed, smoothed image.

    ``DSO_TOY_SLEEP`` (seconds) slows it down so that a test can kill the
    watcher in the middle of a stack.
    """

    name = "toy"

    def __init__(self, thresh: float = 4.0):
        self.thresh = thresh

    def detect(self, image) -> list[Detection]:
        import cv2
        import sep

        from dsodetect.live.session import starless_gray

        delay = float(os.environ.get("DSO_TOY_SLEEP", "0") or 0)
        if delay:
            time.sleep(delay)
        g = cv2.GaussianBlur(starless_gray(image.gray()), (0, 0), 3)
        bkg = sep.Background(np.ascontiguousarray(g), bw=64, bh=64)
        sub = g - bkg.back()
        objs = sep.extract(sub, self.thresh, err=bkg.globalrms, minarea=60)
        out = []
        for o in objs:
            snr = o["flux"] / (bkg.globalrms * np.sqrt(o["npix"]))
            out.append(Detection(float(o["xmin"]), float(o["ymin"]), float(o["xmax"]) + 1,
                                 float(o["ymax"]) + 1, score=float(min(1.0, snr / 30.0)), method=self.name))
        return out


class SlowToy(ToyDetector):
    """Same as ToyDetector under another method name (tests of several methods)."""

    name = "toy2"


def test_synthetic_stack_noise_falls_as_sqrt_t():
    a, b = stack_array(40, seed=1), stack_array(640, seed=1)
    corner = (slice(0, 40), slice(280, 320))
    ratio = a[corner].std() / b[corner].std()
    assert 3.2 < ratio < 4.8  # sqrt(640 / 40) = 4


def stack_rows(session_dir: Path, columns: str = "path") -> list[tuple]:
    """Rows of the ``stacks`` table of a session folder, read from outside the session (another process may be
    writing it, or may have died before creating it): ``[]`` until the table exists."""
    import sqlite3

    db = Path(session_dir) / "session.sqlite"
    if not db.exists():
        return []
    con = sqlite3.connect(db, timeout=5)
    try:
        return list(con.execute(f"SELECT {columns} FROM stacks"))
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()
