"""The presence classifier's network, and rebuilding it in torch from its ONNX file.

Imports torch lazily: ``ARCHS`` is importable without it.
"""

from __future__ import annotations

__all__ = ["ARCHS", "build_network", "Presence", "load_torch"]

#: torchvision architectures offered, trained from scratch with one output (the logit of "DSO in the crop").
ARCHS = ("mobilenet_v3_small", "resnet18", "resnet50", "mobilenet_v2")

# Stretched smart-telescope crops sit mostly near the sky level; a fixed affine map (not ImageNet statistics, which
# mean nothing without ImageNet weights) centres them. It lives in the network so ONNX and torch agree.
_MEAN, _STD = 0.25, 0.25

# A weight name each architecture has that none after it has (to recognise a classifier file that comes
# without its card): checked in this order.
_FIRST_WEIGHT = {"resnet50": "layer4.2.conv3.weight", "resnet18": "layer4.1.conv2.weight",
                 "mobilenet_v2": "features.18.0.weight", "mobilenet_v3_small": "features.12.0.weight"}


def build_network(arch: str):
    """A torchvision ``arch`` with one output logit, behind a fixed input normalisation (input RGB in [0, 1])."""
    import torch
    import torchvision

    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; choose from {', '.join(ARCHS)}")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = getattr(torchvision.models, arch)(weights=None, num_classes=1)

        def forward(self, x):
            return self.body((x - _MEAN) / _STD)

    net = Net()
    # torchvision's MobileNets keep batch-norm running statistics with momentum 0.01, tuned for long ImageNet
    # runs: trained from scratch for a few hundred steps, their running statistics lag so far behind that the
    # network in eval mode answered one constant (measured: validation accuracy 0.50 while training loss fell).
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 0.1
    net.arch = arch
    return net


def Presence(net):
    """``net`` with a sigmoid: the probability that the crop holds a deep-sky object, ``(N, 1)``."""
    import torch

    class _Presence(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            return torch.sigmoid(self.net(x))

    return _Presence()


def load_torch(onnx_path, arch: str | None = None):
    """Rebuild the torch network (logit output, eval mode) from an exported classifier's ONNX file.

    The export keeps each parameter and batch-norm buffer as an initializer
    under its torch name (``net.body.…``), so the state dict is read back
    exactly; a file that lacks one raises ``ValueError``. With ``arch=None``
    the architecture is recognised from the names.
    """
    import onnx
    import torch
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    if arch is None:
        names = {i.name for i in model.graph.initializer}
        arch = next((a for a in _FIRST_WEIGHT if f"net.body.{_FIRST_WEIGHT[a]}" in names), None)
        if arch is None:
            raise ValueError(f"{onnx_path}: not a dsodetect presence classifier (unknown architecture)")
    net = build_network(arch)
    weights = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for node in model.graph.node:  # the exporter shares equal tensors (e.g. untouched batch norms) via Identity
        if node.op_type == "Identity" and node.input[0] in weights:
            weights[node.output[0]] = weights[node.input[0]]
    state = {}
    for key, ref in net.state_dict().items():
        arr = weights.get(f"net.{key}")
        if arr is None:
            if key.endswith("num_batches_tracked"):
                state[key] = ref
                continue
            raise ValueError(f"{onnx_path}: no weight {key!r} (not a dsodetect classifier of {arch}?)")
        state[key] = torch.from_numpy(arr.copy()).to(ref.dtype).reshape(ref.shape)
    net.load_state_dict(state)
    return net.eval()
