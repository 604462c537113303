"""Optional star removal with a StarNet++ command-line binary.

StarNet++ (Nikita Misiura) is a neural network that removes stars. Its weights
ship with the binary and cannot be fetched by dsodetect, so this module only
*runs* an installed copy:

* the binary is ``$STARNET_BIN`` when set, else the first of ``starnet++``,
  ``rgb_starnet++``, ``starnet2``, ``mono_starnet++`` found on ``PATH``;
* it is called as ``BINARY input.tif output.tif [stride]`` (the interface of
  StarNet++ v1 and v2 command-line builds, and what Siril uses), from the
  binary's own folder, where it looks for its weights file. A different
  argument order can be given with ``$STARNET_ARGS``, e.g.
  ``"-i {input} -o {output}"``;
* input is the display-stretched image as a 16-bit RGB TIFF (StarNet++ expects
  stretched data), output is read back as the starless image.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["StarNet", "find_starnet", "INSTALL_HINT"]

CANDIDATES = ("starnet++", "rgb_starnet++", "starnet2", "mono_starnet++")

INSTALL_HINT = (
    "StarNet++ is not installed: download the command-line version for your system from "
    "https://www.starnetastro.com/ (weights included), unpack it, and put its folder on PATH "
    "or set STARNET_BIN=/path/to/starnet++; or use --star-remover builtin")


def find_starnet() -> Path | None:
    """Path of a StarNet++ executable, or None."""
    env = os.environ.get("STARNET_BIN")
    if env:
        p = Path(env).expanduser()
        if p.is_file() and os.access(p, os.X_OK):
            return p.resolve()
        found = shutil.which(env)
        return Path(found).resolve() if found else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found).resolve()
    return None


class StarNet:
    """Run StarNet++ on an image in [0, 1].

    Raises
    ------
    FileNotFoundError
        When no binary is found (the message says how to install one), or
        when ``$STARNET_BIN`` points at nothing executable.
    """

    def __init__(self, binary=None, stride: int | None = None, timeout: float = 600.0):
        path = Path(binary) if binary else find_starnet()
        if path is None or not path.is_file():
            where = f" (STARNET_BIN={os.environ['STARNET_BIN']!r} is not an executable file)" \
                if os.environ.get("STARNET_BIN") and binary is None else ""
            raise FileNotFoundError(INSTALL_HINT + where)
        self.binary = path
        self.stride = stride
        self.timeout = timeout
        self.args_template = os.environ.get("STARNET_ARGS", "{input} {output}")

    def command(self, src: Path, dst: Path) -> list[str]:
        args = [a.format(input=str(src), output=str(dst))
                for a in shlex.split(self.args_template)]
        cmd = [str(self.binary), *args]
        if self.stride:
            cmd.append(str(int(self.stride)))
        return cmd

    def remove(self, img: np.ndarray) -> np.ndarray:
        """Starless version of ``img`` (``(H, W)`` or ``(H, W, 3)`` float in [0, 1])."""
        import tifffile

        x = np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)
        mono = x.ndim == 2
        rgb = np.repeat(x[:, :, None], 3, axis=2) if mono else x
        with tempfile.TemporaryDirectory(prefix="dsodetect-starnet-") as tmp:
            src, dst = Path(tmp) / "input.tif", Path(tmp) / "starless.tif"
            tifffile.imwrite(src, (rgb * 65535.0 + 0.5).astype(np.uint16), photometric="rgb")
            try:
                proc = subprocess.run(self.command(src, dst), cwd=str(self.binary.parent),
                                      capture_output=True, text=True, timeout=self.timeout)
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"StarNet++ ({self.binary}) did not finish in {self.timeout:.0f} s") from None
            if proc.returncode != 0 or not dst.exists():
                tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-3:]
                raise RuntimeError(f"StarNet++ ({self.binary}) failed with exit code {proc.returncode}"
                                   + (": " + " | ".join(tail) if tail else ""))
            out = np.asarray(tifffile.imread(dst))
        out = np.squeeze(out)
        if out.ndim == 3 and out.shape[0] in (1, 3) and out.shape[-1] not in (1, 3):
            out = np.moveaxis(out, 0, -1)
        if np.issubdtype(out.dtype, np.integer):
            out = out.astype(np.float32) / np.iinfo(out.dtype).max
        out = out.astype(np.float32)
        if out.ndim == 3 and out.shape[2] == 1:
            out = out[:, :, 0]
        if mono and out.ndim == 3:
            out = out.mean(axis=2)
        if not mono and out.ndim == 2:
            out = np.repeat(out[:, :, None], 3, axis=2)
        if out.shape[:2] != x.shape[:2]:
            import cv2
            out = cv2.resize(out, (x.shape[1], x.shape[0]), interpolation=cv2.INTER_AREA)
        return out
