"""YOLO recipe ablation: does pre-training on the simulator's images help? do pseudo-labelled extra tiles help?

Three short from-scratch schedules of the shipped recipe (320 px, YOLO11n,
``--epochs`` epochs each, mosaic off for the last quarter, rounded up), scored the way the
shipped model's threshold is chosen: best F1 on the held-out source ids of
real-train (never real-dev).

- ``real``: the real training tiles only.
- ``pseudo``: the real training tiles plus the unlabelled real tiles, labelled
  by a model (default: the shipped one at its card threshold).
- ``synth``: ``--synth-epochs`` epochs on ``--synth`` simulator tiles
  (``dsodetect synth dataset``), then the ``real`` schedule from that checkpoint.

    python benchmarks/yolo_ablation.py --runs runs/ablation [--epochs 20] [--synth 1200] [--synth-epochs 10]
        [--data ../shared/data/real-train] [--unlabeled ../shared/data/real-unlabeled] [--only real,pseudo,synth]

Needs the train extra and ../shared/data. Hours on a laptop CPU: every run is
resumable from its JSON (a finished arm is not run again).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

ARMS = ("real", "pseudo", "synth")


def score(run: Path) -> dict:
    """Export the run's best checkpoint and pick its threshold on the held-out ids."""
    from dsodetect.train.yolo import export_onnx, pick_threshold

    onnx = export_onnx(run / "weights" / "best.pt", run / f"{run.name}.onnx", imgsz=320)
    out = pick_threshold(onnx, run.parent / "data" / "data.yaml")
    out["wall_s"] = sum(float(line.split()[1]) for line in (run / "wall_time.txt").read_text().splitlines())
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "real-train")
    ap.add_argument("--unlabeled", type=Path, default=ROOT.parent / "shared" / "data" / "real-unlabeled")
    ap.add_argument("--pseudo-model", default="yolo11n-dso")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--synth", type=int, default=1200)
    ap.add_argument("--synth-epochs", type=int, default=10)
    ap.add_argument("--only", default=",".join(ARMS))
    a = ap.parse_args(argv)

    from dsodetect.train.data import prepare_data
    from dsodetect.train.yolo import PRESETS, train_yolo

    runs = a.runs.resolve()
    runs.mkdir(parents=True, exist_ok=True)
    data_yaml = prepare_data(a.data, runs / "data")  # the split by source id of `dsodetect train yolo`
    data_dir = data_yaml.parent
    recipe = PRESETS["default"].with_(epochs=a.epochs, close_mosaic=math.ceil(a.epochs / 4))
    res_path = runs / "ablation.json"
    res = json.loads(res_path.read_text()) if res_path.is_file() else {}

    def arm(name, yaml_path, recipe, weights=None):
        if name not in res:
            train_yolo(yaml_path, out=runs, recipe=recipe, name=name, weights=weights)
            res[name] = score(runs / name)
            res_path.write_text(json.dumps(res, indent=1))
        print(name, json.dumps(res[name]), flush=True)

    def extra_yaml(name, train):
        path = runs / f"{name}.yaml"
        path.write_text(f"path: {data_dir}\nnames:\n  0: DSO\nnc: 1\ntrain: {json.dumps(train)}\nval: images/val\n")
        return path

    only = a.only.split(",")
    if "real" in only:
        arm("real", data_yaml, recipe)
    if "pseudo" in only:
        pse = runs / "pseudo-labels"
        if not (pse / "labels").is_dir():
            from dsodetect.detectors.yolo import YoloDetector
            from dsodetect.train.data import pseudo_label

            print("pseudo boxes", pseudo_label(a.unlabeled, pse, detector=YoloDetector(a.pseudo_model)), flush=True)
        arm("pseudo", extra_yaml("pseudo", ["images/train", str(pse / "images")]), recipe)
    if "synth" in only:
        synth = runs / f"synth-{a.synth}"
        if not (synth / "labels").is_dir():
            from dsodetect.synth.dataset import make_dataset

            make_dataset(synth, n=a.synth, seed=1)
        pre = PRESETS["default"].with_(epochs=a.synth_epochs, close_mosaic=math.ceil(a.synth_epochs / 4))
        arm("synth-pre", extra_yaml("synth", str(synth / "images")), pre)
        arm("synth", data_yaml, recipe, weights=runs / "synth-pre" / "weights" / "last.pt")


if __name__ == "__main__":
    main()
