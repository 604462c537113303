"""One training step of each network, fp32 against CPU bfloat16 autocast + channels-last, in one run.

bf16 autocast pays only where the processor computes in bfloat16 natively (Intel AMX or AVX512-BF16): there a
YOLO11n step was 1.5-2x faster. Elsewhere (AVX2-only CPUs: most AMD and older Intel laptops) PyTorch emulates it,
and a step is many times slower; ``dsodetect.train.native_bf16()`` decides the default from that. This prints the
ratio on the machine it runs on. Needs the train extra (torch, torchvision, ultralytics); no data.

    python benchmarks/train_step.py [--nets yolo11n,mobilenet_v3_small,resnet18] [--steps 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def _network(name):
    """(network, input batch) of the shipped recipes: YOLO at batch 16, 320 px; classifiers at batch 32, 224 px."""
    import torch

    if name.startswith("yolo"):
        from dsodetect.train.yolo import _offline

        _offline()
        from ultralytics.nn.tasks import DetectionModel

        return DetectionModel(f"{name}.yaml", nc=1, verbose=False), torch.rand(16, 3, 320, 320)
    from dsodetect.detectors.xai.network import build_network

    return build_network(name), torch.rand(32, 3, 224, 224)


def step_time(name: str, *, bf16: bool, steps: int) -> float:
    """Best seconds of one forward + backward + Adam step (after one untimed warm-up step)."""
    import torch

    from dsodetect.train.checkpoints import cpu_autocast

    torch.manual_seed(0)
    net, x = _network(name)
    net.train()
    if bf16:
        net, x = net.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    best = float("inf")
    for i in range(steps + 1):
        t0 = time.perf_counter()
        with cpu_autocast(bf16):
            out = net(x)
            # A stand-in loss on every output (YOLO's head returns a dict of tensors in training mode): the
            # network's forward and backward are the step's cost, not the loss.
            outs = out.values() if isinstance(out, dict) else out if isinstance(out, (list, tuple)) else [out]
            outs = [t for o in outs for t in (o if isinstance(o, (list, tuple)) else [o]) if torch.is_tensor(t)]
            loss = sum(t.float().square().mean() for t in outs)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i:  # the first step builds the kernels
            best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", default="yolo11n,mobilenet_v3_small,resnet18")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per network and precision (best kept)")
    a = ap.parse_args(argv)

    import torch

    from dsodetect.train import native_bf16

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}, native bfloat16: {native_bf16()}")
    print(f"{'network':<20} {'fp32 s':>8} {'bf16 s':>8} {'bf16 / fp32':>12}")
    for name in a.nets.split(","):
        fp32 = step_time(name, bf16=False, steps=a.steps)
        bf16 = step_time(name, bf16=True, steps=a.steps)
        print(f"{name:<20} {fp32:>8.2f} {bf16:>8.2f} {bf16 / fp32:>11.2f}x", flush=True)


if __name__ == "__main__":
    main()
