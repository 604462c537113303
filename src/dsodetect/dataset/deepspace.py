"""DeepSpaceYoloDataset (Parisot, Zenodo record 8387071): verify, unpack, split.

The record is a zip of JPEG tiles (``images/<n>.jpg``) and YOLO labels
(``labels/<n>.txt``), possibly inside a top folder. Given the zip (or its URL
where there is internet), :func:`load_deepspace` checks its checksum, unpacks
it safely and lays it out as an Ultralytics data set with 80/10/10 splits.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import zipfile
from pathlib import Path

__all__ = ["ZENODO_RECORD", "ZENODO_API", "file_checksum", "zenodo_files", "download", "unpack_zip",
           "load_deepspace"]

ZENODO_RECORD = 8387071
ZENODO_API = f"https://zenodo.org/api/records/{ZENODO_RECORD}"


def file_checksum(path, algorithm: str = "md5", chunk: int = 1 << 20) -> str:
    """Hex digest of a file (``md5`` as Zenodo publishes it, or ``sha256``)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def zenodo_files(api_url: str = ZENODO_API, timeout: float = 30.0) -> list[dict]:
    """``[{"key", "url", "checksum", "size"}]`` of a Zenodo record (needs internet)."""
    import json
    import urllib.request

    with urllib.request.urlopen(api_url, timeout=timeout) as r:
        meta = json.load(r)
    out = []
    for f in meta.get("files", []):
        out.append({"key": f.get("key"), "url": f.get("links", {}).get("self"),
                    "checksum": f.get("checksum"), "size": f.get("size")})
    return out


def download(url: str, dst, timeout: float = 60.0) -> Path:
    """Stream ``url`` to ``dst`` (written to a temporary name first)."""
    import urllib.request

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".part")
    with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as fh:
        shutil.copyfileobj(r, fh, 1 << 20)
    tmp.replace(dst)
    return dst


def _check(path: Path, checksum: str | None):
    """Verify ``checksum`` (``"md5:..."``, ``"sha256:..."`` or a bare md5)."""
    if not checksum:
        return None
    algo, _, digest = checksum.partition(":") if ":" in checksum else ("md5", "", checksum)
    got = file_checksum(path, algo)
    if got.lower() != digest.lower():
        raise ValueError(f"{path}: {algo} checksum mismatch (expected {digest}, got {got})")
    return f"{algo}:{got}"


def unpack_zip(zip_path, dst) -> Path:
    """Extract a zip, refusing members that would land outside ``dst``."""
    zip_path, dst = Path(zip_path), Path(dst)
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{zip_path}: not a readable zip file ({exc})") from None
    root = dst.resolve()
    with zf:
        for m in zf.infolist():
            target = (dst / m.filename).resolve()
            if root != target and root not in target.parents:
                raise ValueError(f"{zip_path}: unsafe member path {m.filename!r}")
        zf.extractall(dst)
    return dst


def load_deepspace(source, dst, *, checksum: str | None = None, fractions=(0.8, 0.1, 0.1), seed: int = 0,
                   keep_zip: bool = True) -> dict:
    """Get DeepSpaceYoloDataset into ``dst`` as a split YOLO data set.

    Parameters
    ----------
    source : path or URL
        The downloaded zip, or an ``http(s)`` URL of it (needs internet). The
        string ``"zenodo"`` downloads the record's zip and takes its checksum
        from the Zenodo API.
    checksum : str, optional
        ``md5:<hex>`` / ``sha256:<hex>`` / bare md5 the zip must match.
    fractions, seed
        Split by source image (see :func:`~dsodetect.dataset.split.split_by_source`).

    Returns
    -------
    dict
        ``{"checksum", "counts" (per split), "problems" (validation lines), "root"}``.
    """
    from .split import write_split
    from .yolo import find_samples, validate_dataset

    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    src = str(source)
    if src == "zenodo":
        files = [f for f in zenodo_files() if str(f["key"]).lower().endswith(".zip")]
        if not files:
            raise ValueError(f"Zenodo record {ZENODO_RECORD} lists no zip file")
        checksum = checksum or files[0]["checksum"]
        src = files[0]["url"]
    if src.startswith(("http://", "https://")):
        zip_path = download(src, dst / "download" / "DeepSpaceYoloDataset.zip")
    else:
        zip_path = Path(src)
        if not zip_path.is_file():
            raise FileNotFoundError(f"{zip_path}: no such file")
    verified = _check(zip_path, checksum) or f"md5:{file_checksum(zip_path)}"
    with tempfile.TemporaryDirectory(dir=dst) as tmp:
        unpack_zip(zip_path, tmp)
        # The images folder may sit under a top folder (or two) of the zip.
        roots = sorted({p.parent.parent for p in Path(tmp).rglob("images/*") if p.is_file()},
                       key=lambda p: len(p.parts))
        if not roots:
            raise ValueError(f"{zip_path}: no images/ folder inside")
        samples = find_samples(roots[0])
        counts = write_split(samples, dst, fractions, seed)
    if not keep_zip and src.startswith(("http://", "https://")):
        zip_path.unlink(missing_ok=True)
    rep = validate_dataset(dst, check_images=False)
    return {"checksum": verified, "counts": counts, "problems": rep.problems, "root": dst}
