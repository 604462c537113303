"""Naming benchmark: is a detected catalog object given its right name, end to end?

For each Messier object that fits the frame (2' <= size <= 70 % of the frame
height; not a star, double star or asterism), a full frame of a random preset
is rendered around it (target up to 25 % of the frame off centre, random
angle and parity). The frame is solved blind (no header), and a detection is
made from the target's catalog box with a detector's sloppiness (centre moved
by up to 15 % of the box, size scaled by 0.8..1.3). The detection is named by
:func:`dsodetect.identify.identify`.

- top-1: the first name is the target;
- listed: the target is among the names;
- solved: the frame was solved (a failure leaves it unnamed and counts wrong).

    nice -n 10 .venv/bin/python benchmarks/identify_naming.py --out /tmp/naming.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
import time

import numpy as np


def targets(max_frac: float = 0.7):
    from dsodetect.identify.catalog import NOT_DSO_TYPES, load_catalog
    from dsodetect.telescopes import PRESETS

    smallest_h = min(min(p.field_arcmin) for p in PRESETS.values())
    out = []
    for o in load_catalog().objects:
        if o.messier and o.type not in NOT_DSO_TYPES | {"*Ass"} and o.major_arcmin \
                and 2.0 <= o.major_arcmin <= max_frac * smallest_h:
            out.append(o)
    return sorted({o.designation: o for o in out}.values(), key=lambda o: int(o.messier))


def main(argv=None) -> int:
    from dsodetect.detection import Detection
    from dsodetect.identify import astrometry_status, identify
    from dsodetect.identify.geometry import object_box
    from dsodetect.telescopes import PRESETS
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # test-only sky renderer
    from identify_testfield import render_field

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=0, help="only the first N targets")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    ok, why = astrometry_status()
    if not ok:
        print(why, file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    objs = targets()
    if args.limit:
        objs = objs[: args.limit]
    rows = []
    for obj in objs:
        preset = str(rng.choice(list(PRESETS)))
        p = PRESETS[preset]
        fw, fh = (v / 60.0 for v in p.field_arcmin)
        dx, dy = rng.uniform(-0.25, 0.25) * fw, rng.uniform(-0.25, 0.25) * fh
        ra = obj.ra + dx / max(np.cos(np.radians(obj.dec)), 0.05)
        dec = float(np.clip(obj.dec + dy, -89.9, 89.9))
        field = render_field(ra, dec, preset=preset, rotation_deg=float(rng.uniform(-180, 180)),
                             flip=bool(rng.integers(2)), noise=5.0, seed=int(rng.integers(1e9)))
        x0, y0, x1, y1 = object_box(obj, field.wcs)
        w, h = x1 - x0, y1 - y0
        cx = (x0 + x1) / 2 + rng.uniform(-0.15, 0.15) * w
        cy = (y0 + y1) / 2 + rng.uniform(-0.15, 0.15) * h
        sw, sh = w * rng.uniform(0.8, 1.3) / 2, h * rng.uniform(0.8, 1.3) / 2
        det = Detection(cx - sw, cy - sh, cx + sw, cy + sh, score=0.8)
        t0 = time.perf_counter()
        report = identify(field.image("none"), [det], hint=False, timeout=args.timeout)
        names = det.extras.get("names", [])  # labels ("Whirlpool Galaxy (M 51)"); ids are the records
        ids = det.extras.get("ids", [])
        row = dict(target=obj.designation, type=obj.type, size_arcmin=obj.major_arcmin, preset=preset,
                   solved=report.solution.ok, names=names[:4], top1=bool(ids) and ids[0] == obj.name,
                   listed=obj.name in ids, seconds=round(time.perf_counter() - t0, 2))
        rows.append(row)
        print(json.dumps(row), flush=True)
    n = len(rows)
    solved = sum(r["solved"] for r in rows)
    top1 = sum(r["top1"] for r in rows)
    listed = sum(r["listed"] for r in rows)
    print(f"\n{n} targets: solved {solved}/{n}, top-1 name right {top1}/{n} ({100 * top1 / n:.1f} %), "
          f"target listed {listed}/{n} ({100 * listed / n:.1f} %)")
    wrong = [r for r in rows if r["solved"] and not r["top1"]]
    for r in wrong:
        print(f"  {r['target']} ({r['type']}, {r['preset']}): named {r['names']}")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
