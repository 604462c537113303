"""Plate-solving benchmark: success rate and time on rendered full frames of the three presets.

Each trial renders a full frame (Tycho-2 index stars + fainter random stars +
catalog objects, Gaussian PSF of 2-4 px FWHM, noise) at a random pointing (uniform on the
sphere), camera angle and parity, then solves it

- blind: no header at all;
- size: no header; the frame size gives the preset's scale range;
- hint: a Seestar-like header (RA/DEC off by up to 0.5 deg, FOCALLEN, XPIXSZ).

A solve counts as a success when the recovered centre is within 1 arcminute
of the truth. Needs astrometry.net and its Tycho-2 index files.

    nice -n 10 .venv/bin/python benchmarks/identify_solve.py --n 20 --out /tmp/solve.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
import time

import numpy as np


def main(argv=None) -> int:
    from dsodetect.identify import astrometry_status, solve
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # test-only sky renderer
    from identify_testfield import render_field

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20, help="trials per preset")
    ap.add_argument("--presets", default="stellina,vespera,seestar")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--modes", default="blind,hint", help="any of blind, size (frame-size scale hint), hint")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--noise", type=float, default=5.0, help="sky noise (a V=10 star has 2e4 counts)")
    ap.add_argument("--render-index", help="index file whose stars are drawn (default: the finest installed); "
                                           "solving uses $DSODETECT_INDEX_DIR or the system indexes")
    ap.add_argument("--out", help="write per-trial results as JSON here")
    args = ap.parse_args(argv)
    ok, why = astrometry_status()
    if not ok:
        print(why, file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    rows = []
    for preset in args.presets.split(","):
        for i in range(args.n):
            ra = float(rng.uniform(0, 360))
            dec = float(np.degrees(np.arcsin(rng.uniform(-1, 1))))
            rot, flip = float(rng.uniform(-180, 180)), bool(rng.integers(2))
            fwhm = float(rng.uniform(2.0, 4.0))
            field = render_field(ra, dec, preset=preset, rotation_deg=rot, flip=flip, fwhm_px=fwhm,
                                 noise=args.noise, seed=int(rng.integers(1e9)),
                                 index_file=args.render_index)
            h, w = field.data.shape
            (tra, tdec), = field.wcs.all_pix2world([[(w - 1) / 2, (h - 1) / 2]], 0)
            for mode in args.modes.split(","):
                image = field.image("hint" if mode == "hint" else "none")
                if mode == "hint":  # a mount's pointing is not exact
                    off, ang = rng.uniform(0, 0.5), rng.uniform(0, 2 * np.pi)
                    image.header["DEC"] = float(np.clip(tdec + off * np.sin(ang), -90, 90))
                    image.header["RA"] = float((tra + off * np.cos(ang) / max(np.cos(np.radians(tdec)), 0.05)) % 360)
                t0 = time.perf_counter()
                # blind: hint=False, so not even the frame size narrows the scale.
                sol = solve(image, hint=mode != "blind", timeout=args.timeout)
                wall = time.perf_counter() - t0
                err = None
                if sol.ok:
                    ra_s, dec_s = sol.center(w, h)
                    dra = ((ra_s - tra + 180) % 360 - 180) * np.cos(np.radians(tdec))
                    err = float(np.hypot(dra, dec_s - tdec) * 60)
                row = dict(preset=preset, trial=i, mode=mode, ra=round(ra, 3), dec=round(dec, 3),
                           n_index_stars=len(field.stars), solved=sol.ok, success=err is not None and err < 1.0,
                           error_arcmin=err, seconds=round(wall, 3), solve_seconds=round(sol.seconds, 3),
                           residual_arcsec=sol.residual_arcsec, n_stars=sol.n_stars, n_matched=sol.n_matched,
                           message=sol.message)
                rows.append(row)
                print(json.dumps(row), flush=True)
    print("\npreset    mode   success  median s  max s  median residual\"")
    for preset in args.presets.split(","):
        for mode in args.modes.split(","):
            r = [x for x in rows if x["preset"] == preset and x["mode"] == mode]
            succ = sum(x["success"] for x in r)
            secs = [x["seconds"] for x in r]
            res = [x["residual_arcsec"] for x in r if x["success"] and x["residual_arcsec"] is not None]
            print(f"{preset:9s} {mode:6s} {succ:3d}/{len(r):<3d}  {statistics.median(secs):7.2f}  "
                  f"{max(secs):6.2f}  {statistics.median(res) if res else float('nan'):.3f}")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
