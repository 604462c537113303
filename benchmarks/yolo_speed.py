"""YOLO inference speed: ONNX Runtime (what ``--method yolo`` runs) against the same model in PyTorch, one run.

Both get the same letterboxed real-dev tiles, one at a time (batch 1, as a
tile of a live stack arrives), on the same cores; the figure is images per
second of the network call alone and of the whole ``detect`` (letterbox + call
+ decode + NMS). Needs the train extra (torch, ultralytics) for the PyTorch
side and ``../shared/data``.

    python benchmarks/yolo_speed.py --weights runs/yolo-main/weights/best.pt [--onnx model.onnx] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, required=True, help="the Ultralytics .pt the ONNX model came from")
    ap.add_argument("--onnx", default="yolo11n-dso", help="model name or .onnx path (default: the shipped one)")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "real-dev")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)

    import torch
    from ultralytics import YOLO

    from dsodetect.detectors.yolo import YoloDetector
    from dsodetect.io import read_image

    det = YoloDetector(a.onnx)
    images = [read_image(p) for p in sorted((a.data / "images").glob("*.jpg"))]
    inputs = [det.network_input(im)[0] for im in images]
    net = YOLO(str(a.weights)).model.float().eval()
    torch.set_num_threads(max(1, torch.get_num_threads()))

    def ort_call():
        for x in inputs:
            det.session.run(None, {det.input_name: x})

    def torch_call():
        with torch.inference_mode():
            for x in inputs:
                net(torch.from_numpy(x))

    def ort_detect():
        for im in images:
            det.detect(im)

    ort_call(), torch_call()  # warm-up
    best = {}
    for name, fn in (("onnxruntime", ort_call), ("pytorch", torch_call), ("onnxruntime detect()", ort_detect)):
        times = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        best[name] = len(inputs) / min(times)
    for k, v in best.items():
        print(f"{k:22s} {v:7.1f} images/s")
    print(f"ratio onnxruntime / pytorch (network call): {best['onnxruntime'] / best['pytorch']:.2f}x "
          f"({len(inputs)} tiles at {det.imgsz} px, {torch.get_num_threads()} threads, best of {a.repeat})")


if __name__ == "__main__":
    main()
