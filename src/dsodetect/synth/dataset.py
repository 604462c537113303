"""Write many synthetic fields as a YOLO data set (in parallel)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["sample_config", "make_dataset"]


def sample_config(index: int, seed: int = 0, preset: str = "mix", min_integration: float = 180.0,
                  max_integration: float = 3600.0) -> dict:
    """Render arguments of the ``index``-th image of a data set (deterministic).

    Integration times are log-uniform between the bounds (the real stacks
    run from minutes to hours); ``preset="mix"`` alternates Stellina and
    Vespera like the real data set (Seestar is rendered when named).
    """
    rng = np.random.default_rng([seed, index, 7])
    p = preset if preset != "mix" else ("stellina", "vespera")[int(rng.integers(2))]
    t = float(np.exp(rng.uniform(np.log(min_integration), np.log(max_integration))))
    return {"preset": p, "seed": int(seed) * 1_000_003 + index, "integration_s": round(t / 10.0) * 10.0 or 10.0}


def _one(job):
    out, index, cfg, size, fits, kw = job
    from .render import write_sample

    stem = f"synth{index:07d}"
    out = Path(out)
    # One render; each file type goes to its own folder of the data set (images/, labels/, fits/).
    scene = write_sample(out / "images" / stem, size=size, fits=False, labels=False, **cfg, **kw)["scene"]
    write_sample(out / "labels" / stem, scene=scene, fits=False, jpeg=False)
    if fits:
        write_sample(out / "fits" / stem, scene=scene, jpeg=False, labels=False)
    kinds = [d.extras.get("kind", "") for d in scene.labels]
    return stem, cfg["integration_s"], len(scene.labels), kinds


def make_dataset(out, n: int, *, size=640, seed: int = 0, preset: str = "mix", min_integration: float = 180.0,
                 max_integration: float = 3600.0, workers: int = 1, fits: bool = False, start: int = 0,
                 progress=None, **render_kw) -> dict:
    """Render ``n`` random fields into ``out/images/*.jpg`` + ``out/labels/*.txt`` (+ ``out/fits``).

    Returns counts and a ``manifest.csv`` (name, integration, boxes, kinds) is written.
    """
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    if fits:
        (out / "fits").mkdir(parents=True, exist_ok=True)
    jobs = [(str(out), i, sample_config(i, seed, preset, min_integration, max_integration), size, fits, render_kw)
            for i in range(start, start + n)]
    rows = []
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(workers) as pool:
            for r in pool.imap(_one, jobs, chunksize=4):
                rows.append(r)
                if progress:
                    progress(len(rows), n)
    else:
        for j in jobs:
            rows.append(_one(j))
            if progress:
                progress(len(rows), n)
    with open(out / "manifest.csv", "w") as fh:
        fh.write("name,integration_s,boxes,kinds\n")
        for stem, t, nb, kinds in rows:
            fh.write(f"{stem},{t:g},{nb},{'|'.join(kinds)}\n")
    return {"images": len(rows), "boxes": int(sum(r[2] for r in rows)),
            "empty": int(sum(r[2] == 0 for r in rows))}
