"""Time and peak memory of the classical detector on a 3096x2080 linear full frame.

Smart telescopes (Vaonis Stellina, IMX178) write 3096x2080 frames; the
target is <= 2 s and <= 2 GB peak RSS per frame on a 2-core machine. Without
an argument a synthetic linear RGB frame (sky, 4000 stars, a nebula) is
written as a 32-bit FITS cube and read back with ``dsodetect.io.read_image``,
as the CLI does; pass FITS files to time real ones.

    python benchmarks/classical_fullframe.py [--repeat 5] [frame.fits ...]

Peak RSS is the process high-water mark (``ru_maxrss``), so it includes the
Python interpreter, numpy/OpenCV/astropy and the image itself.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from dsodetect.detectors.classical import ClassicalDetector  # noqa: E402
from dsodetect.io import read_image  # noqa: E402


def synthetic_frame(path: Path, h: int = 2080, w: int = 3096, seed: int = 0) -> Path:
    """A linear 3 x H x W float32 FITS frame with stars and a faint nebula."""
    from astropy.io import fits

    rng = np.random.default_rng(seed)
    data = rng.normal(800.0, 15.0, (h, w, 3)).astype(np.float32)
    n = 4000
    xs, ys = rng.uniform(0, w, n), rng.uniform(0, h, n)
    amps = 30.0 / rng.uniform(0.01, 1.0, n)
    r = 8
    g = np.arange(-r, r + 1, dtype=np.float32)
    for x, y, a in zip(xs, ys, amps):
        xi, yi = int(x), int(y)
        x0, x1, y0, y1 = max(0, xi - r), min(w, xi + r + 1), max(0, yi - r), min(h, yi + r + 1)
        gx = np.exp(-((g[x0 - xi + r:x1 - xi + r] + xi - x) ** 2) / 8.0)
        gy = np.exp(-((g[y0 - yi + r:y1 - yi + r] + yi - y) ** 2) / 8.0)
        data[y0:y1, x0:x1] += (a * np.outer(gy, gx))[..., None]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    neb = 40.0 * np.exp(-0.5 * (((xx - 1900) / 350) ** 2 + ((yy - 1000) / 250) ** 2))
    data[:, :, 0] += neb
    data[:, :, 1] += 0.3 * neb
    data[:, :, 2] += 0.3 * neb
    fits.PrimaryHDU(np.moveaxis(data, -1, 0)).writeto(path, overwrite=True)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("frames", nargs="*", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    tmp = None
    frames = a.frames
    if not frames:
        tmp = tempfile.TemporaryDirectory()
        frames = [synthetic_frame(Path(tmp.name) / "synthetic_3096x2080.fits")]
    det = ClassicalDetector()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for f in frames:
        read_t, det_t = [], []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            image = read_image(f)
            t1 = time.perf_counter()
            dets = det.detect(image)
            t2 = time.perf_counter()
            read_t.append(t1 - t0)
            det_t.append(t2 - t1)
            h, w = image.shape
            del image
        print(f"{f.name}: {w}x{h}, read {np.median(read_t):.2f} s, detect {np.median(det_t):.2f} s "
              f"(min {min(det_t):.2f}, max {max(det_t):.2f}) over {a.repeat} runs; "
              f"{len(dets)} detection(s)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB (after imports {rss0:.0f} MB)")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
