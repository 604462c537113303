"""Draw docs/img/classical_pipeline.png: the classical detector's stages on a synthetic sky.

The figure uses a synthetic image (the test-suite generator: Gaussian stars,
a faint red nebula, a compact galaxy, a black rotation wedge) because the real
data sets may not be copied into the repository.

    python benchmarks/classical_figure.py [--out docs/img/classical_pipeline.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from dsodetect.detectors.classical import ClassicalDetector  # noqa: E402


def main(argv=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    from test_classical import add_galaxy, add_nebula, as_image, make_sky

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "docs/img/classical_pipeline.png"))
    a = ap.parse_args(argv)

    rgb, _ = make_sky(seed=21, n_stars=900)
    rgb = add_nebula(rgb, 250, 330, 95, 60, amp=0.06, angle=0.5)
    rgb = add_galaxy(rgb, 500, 150, re=4.0, amp=0.5)
    h, w = rgb.shape[:2]
    gy, gx = np.mgrid[0:h, 0:w]
    rgb[gy > h - 60 + (gx - w) * 0.25] = 0.0  # rotation wedge, bottom right
    img = as_image(rgb)
    det = ClassicalDetector()
    res = det.detect(img)
    dets = res.detections
    prod = {k: p.data for k, p in res.products.items()}
    work, nodata, f = det.prepare(img)
    cat, smask, starless = det.remove_stars(work, nodata, f)
    maps, _ = det.diffuse(starless, nodata, f)

    fig, axs = plt.subplots(1, 5, figsize=(20, 4.4))
    disp = np.clip(img.data * 4, 0, 1)
    axs[0].imshow(disp)
    axs[0].set_title("input (stretched x4)")
    ov = disp.copy()
    ov[prod["star_mask"]] = ov[prod["star_mask"]] * 0.4 + np.array([0.6, 0, 0])
    ov[nodata] = [0.6, 0, 0.6]
    ext = ~cat.is_star
    axs[1].imshow(ov)
    axs[1].scatter(cat.x[ext], cat.y[ext], s=60, facecolors="none", edgecolors="lime")
    axs[1].set_title("star mask (red), no data (purple),\nextended sources (green)")
    axs[2].imshow(np.clip(prod["starless"] * 4, 0, 1))
    axs[2].set_title("starless (Telea inpainting)")
    im = axs[3].imshow(maps.combined, cmap="viridis", vmin=-2, vmax=np.percentile(maps.combined, 99.5))
    axs[3].set_title("diffuse significance (max of lum, red)")
    fig.colorbar(im, ax=axs[3], fraction=0.046)
    axs[4].imshow(disp)
    for d in dets:
        axs[4].add_patch(Rectangle((d.x0, d.y0), d.width, d.height, fill=False, ec="red", lw=2))
        axs[4].text(d.x0 + 4, d.y0 + 18, f"{d.score:.2f} {d.extras.get('kind', '')}", color="red")
    axs[4].set_title(f"boxes (score >= {det.min_score})")
    for ax in axs:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, dpi=72)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
