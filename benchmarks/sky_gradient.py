"""What ``--flatten`` (the sky's gradient subtracted from linear stacks) does to detection, on simulated skies.

The simulator renders linear stacks with light pollution (Bortle class), moonlight, vignetting and amp glow, and
labels every object above the noise. Each frame goes through the pipeline twice, as it is and flattened
(``Image.flattened``), and each method is scored on both at IoU 0.5: at its own threshold (chosen on real tiles)
and at the best threshold of each arm. No real data.

    python benchmarks/sky_gradient.py --scenes 80 --size 1280 --methods yolo,classical --bortle 8 --moon 0.6
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def _side_by_side(images, detections, labels, conf, side=640):
    """One row: each image at ``side`` px with its labels (thin red) and its boxes scoring ``conf`` or more."""
    import cv2

    from dsodetect.outputs.writers import render_annotated

    out = []
    for im, dets in zip(images, detections):
        rgb = render_annotated(im, [d for d in dets if d.score >= conf], max_side=side)
        k = rgb.shape[1] / im.shape[1]
        for d in labels:
            cv2.rectangle(rgb, (int(d.x0 * k), int(d.y0 * k)), (int(d.x1 * k), int(d.y1 * k)), (255, 40, 40), 1)
        out.append(rgb)
    return np.hstack(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=80)
    ap.add_argument("--size", type=int, default=1280, help="square frame side, px")
    ap.add_argument("--methods", default="yolo,classical")
    ap.add_argument("--bortle", type=int, default=8)
    ap.add_argument("--moon", type=float, default=0.6)
    ap.add_argument("--integration", type=float, default=1800.0, help="seconds")
    ap.add_argument("--seed", type=int, default=77)
    ap.add_argument("--render", type=Path, help="PNG: the first --render-scenes frames as they are and flattened, "
                    "labels thin red, the first method's boxes (at its own threshold) as detect draws them")
    ap.add_argument("--render-scenes", type=int, default=3)
    a = ap.parse_args(argv)

    from tqdm import tqdm

    from dsodetect.detectors import get_detector
    from dsodetect.evaluation import evaluate
    from dsodetect.io import from_array
    from dsodetect.pipeline import detect
    from dsodetect.synth.render import render_scene

    detectors = {m: get_detector(m) for m in a.methods.split(",")}
    arms = ("as is", "flattened")
    pred = {(m, arm): {} for m in detectors for arm in arms}
    truth, sizes, flat_s, rows = {}, {}, [], []
    for i in tqdm(range(a.scenes), desc="scenes"):
        scene = render_scene(preset=("stellina", "vespera")[i % 2], seed=a.seed * 1000 + i,
                             integration_s=a.integration, size=a.size, bortle=a.bortle, moon=a.moon)
        key = f"s{i}"
        truth[key], sizes[key] = scene.labels, scene.linear.shape[:2]
        image = from_array(scene.linear.astype(np.float32), name=key)
        t0 = time.perf_counter()
        flat = image.flattened()
        flat_s.append(time.perf_counter() - t0)
        for arm, im in zip(arms, (image, flat)):
            for m, det in detectors.items():
                pred[m, arm][key] = detect(im, det).detections
        if a.render and i < a.render_scenes:
            rows.append(_side_by_side((image, flat), [pred[next(iter(detectors)), arm][key] for arm in arms],
                                      scene.labels, getattr(next(iter(detectors.values())), "conf", 0.0)))
    if rows:
        import cv2

        a.render.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(a.render), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))
    n = sum(len(v) for v in truth.values())
    print(f"{a.scenes} scenes {a.size}x{a.size}, Bortle {a.bortle}, moon {a.moon}, {a.integration:.0f} s: {n} labels; "
          f"flattening {np.median(flat_s) * 1000:.0f} ms a frame (median)")
    print("| method | frames | P / R / **F1** at the method's threshold | best F1 (threshold chosen here) | mAP@0.5 |")
    print("|---|---|---|---|---|")
    for (m, arm), p in pred.items():
        r = evaluate(p, truth, sizes=sizes)  # every box the method keeps: its own threshold
        print(f"| {m} | {arm} | {r['precision']:.3f} / {r['recall']:.3f} / **{r['f1']:.3f}** | {r['best_f1']:.3f} "
              f"| {r['map50']:.3f} |")


if __name__ == "__main__":
    main()
