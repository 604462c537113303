"""Figures for docs/synth.md: one scene per object kind, and one scene stacked longer and longer.

Usage::

    .venv/bin/python benchmarks/synth_gallery.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _boxed(scene, size=256):
    import cv2

    im = np.ascontiguousarray(scene.jpeg[:, :, ::-1])
    for d in scene.labels:
        cv2.rectangle(im, (int(d.x0), int(d.y0)), (int(d.x1) - 1, int(d.y1) - 1), (0, 255, 0), 2)
    return cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA)


def _caption(img, text):
    import cv2

    cv2.putText(img, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def main():
    import cv2

    from dsodetect.synth import render_scene

    out = ROOT / "docs" / "img"
    out.mkdir(parents=True, exist_ok=True)
    kinds = [("galaxy", 8), ("emission_nebula", 201), ("reflection_nebula", 34), ("planetary_nebula", 8),
             ("globular_cluster", 10), ("open_cluster", 204)]
    cells = [_caption(_boxed(render_scene("vespera", seed=s, integration_s=1800, size=640, kind=k)), k)
             for k, s in kinds]
    targets = [("M51", "stellina", 1600), ("M27", "vespera", 640), ("NGC7000", "vespera", 640)]
    for name, preset, size in targets[:2]:
        cells.append(_caption(_boxed(render_scene(preset, seed=0, integration_s=3600, target=name, size=size,
                                                  bortle=4)), f"--target {name} ({preset})"))
    rows = [np.hstack(cells[i:i + 4]) for i in range(0, 8, 4)]
    cv2.imwrite(str(out / "synth_gallery.png"), np.vstack(rows))
    seq = [_caption(_boxed(render_scene("vespera", seed=42, integration_s=t, size=640, kind="galaxy", bortle=6)),
                    f"{t} s") for t in (20, 120, 600, 3600)]
    cv2.imwrite(str(out / "synth_integration.png"), np.hstack(seq))
    print(f"wrote {out / 'synth_gallery.png'} and {out / 'synth_integration.png'}")


if __name__ == "__main__":
    main()
