"""Astrometric solution of an image: header WCS, else astrometry.net offline.

Order: a valid celestial WCS in the FITS header is used as is -- after a check
that its numbers are finite and plausible (a ``CRVAL1 = 'abc'`` that astropy
reads as RA 0, a 1e-12 deg/px scale are refused, and the reason kept);
otherwise stars are extracted with sep and their list is handed to
astrometry.net's ``solve-field`` (an *xylist*, which skips its own image
pipeline), with the header's pointing and pixel scale as search limits when
it has them. A hinted solve that fails (a wrong RA/DEC in the header) is
retried with the scale alone, then blind. :attr:`Solution.tried` says what
was tried and why each step was left. Everything runs locally against the
installed index files.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .hints import Hint, hint_from_header, hint_from_shape

__all__ = ["Solution", "solve", "solve_xy", "extract_stars", "astrometry_status", "find_index_files",
           "INSTALL_HELP"]

#: What to tell a user who has no astrometry.net.
INSTALL_HELP = ("plate solving needs astrometry.net and its Tycho-2 index files; on Debian/Ubuntu: "
                "sudo apt-get install astrometry.net astrometry-data-tycho2")

_CONFIGS = ("/etc/astrometry.cfg", "/usr/local/astrometry/etc/astrometry.cfg",
            "/usr/local/etc/astrometry.cfg", "/opt/homebrew/etc/astrometry.cfg")
_DEFAULT_DIRS = ("/usr/share/astrometry", "/usr/local/astrometry/data", "/usr/local/share/astrometry")


@dataclass
class Solution:
    """Result of :func:`solve`.

    Attributes
    ----------
    wcs : astropy.wcs.WCS or None
        Celestial WCS for 0-based array pixels (None when unsolved).
    seconds : float
        Wall time of the solve (0 for a header WCS).
    residual_arcsec : float or None
        RMS distance between the matched image stars and their index stars
        through ``wcs``; None for a header WCS (nothing to compare with).
    source : str
        ``"header"``, ``"astrometry.net"`` or ``"none"``.
    hint : str
        What limited the search: ``"position+scale"``, ``"scale"``,
        ``"position"``, ``"blind"`` (astrometry.net only).
    n_stars, n_matched : int
        Stars extracted; stars matched to the index.
    message : str
        Why it failed, in one line (empty when solved).
    tried : list of str
        Each step tried before this result, in order, with its outcome
        (``"header WCS: refused (CRVAL1 = 'abc' is not a number)"``,
        ``"astrometry.net (position+scale): no solution"``, ...).
    """

    wcs: object | None
    seconds: float = 0.0
    residual_arcsec: float | None = None
    source: str = "none"
    hint: str = ""
    n_stars: int = 0
    n_matched: int = 0
    message: str = ""
    tried: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.wcs is not None

    def center(self, width: int, height: int) -> tuple[float, float]:
        """RA, Dec (degrees) of the frame centre."""
        (ra, dec), = self.wcs.all_pix2world([[(width - 1) / 2, (height - 1) / 2]], 0)
        return float(ra), float(dec)

    def to_dict(self, width: int | None = None, height: int | None = None) -> dict:
        d = {"solved": self.ok, "source": self.source, "seconds": round(self.seconds, 3),
             "residual_arcsec": None if self.residual_arcsec is None else round(self.residual_arcsec, 3),
             "n_stars": self.n_stars, "n_matched": self.n_matched}
        if self.hint:
            d["hint"] = self.hint
        if self.message:
            d["message"] = self.message
        if self.tried:
            d["tried"] = list(self.tried)
        if self.ok and width and height:
            from .geometry import pixel_scale

            ra, dec = self.center(width, height)
            d.update(ra=round(ra, 6), dec=round(dec, 6), scale_arcsec=round(pixel_scale(self.wcs), 4),
                     rotation_deg=round(_rotation(self.wcs), 2))
        return d


def _rotation(wcs) -> float:
    """Angle of north from the -y (up on screen) axis, degrees east of north."""
    cd = wcs.celestial.pixel_scale_matrix
    return float(np.degrees(np.arctan2(cd[0, 1], cd[1, 1])))


# ----------------------------------------------------------------- availability
def _config_dirs() -> list[Path]:
    dirs = []
    for cfg in _CONFIGS:
        try:
            text = Path(cfg).read_text()
        except OSError:
            continue
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "add_path":
                dirs.append(Path(parts[1]))
    return dirs


@lru_cache(maxsize=8)
def _index_files(dirs: tuple[str, ...]) -> tuple[Path, ...]:
    from astropy.io import fits

    found = []
    for d in dirs:
        for p in sorted(Path(d).glob("index-*.fits")) if Path(d).is_dir() else ():
            try:
                scale = float(fits.getheader(p).get("SCALE_L", 0.0))
            except Exception:
                continue
            found.append((scale, str(p)))
    return tuple(Path(p) for _, p in sorted(set(found)))


def find_index_files(index_dir=None) -> list[Path]:
    """Installed astrometry.net index files, finest scale first.

    Searched: ``index_dir``, else ``$DSODETECT_INDEX_DIR``, else the
    ``add_path`` folders of the astrometry.net config and the usual install folders.
    """
    if index_dir is None:
        index_dir = os.environ.get("DSODETECT_INDEX_DIR")
    dirs = [Path(index_dir)] if index_dir else _config_dirs() + [Path(d) for d in _DEFAULT_DIRS]
    return list(_index_files(tuple(str(d) for d in dirs)))


def astrometry_status(index_dir=None) -> tuple[bool, str]:
    """``(True, "")`` when solve-field and index files are there, else ``(False, how to install)``."""
    if shutil.which("solve-field") is None:
        return False, f"astrometry.net is not installed: {INSTALL_HELP}"
    if not find_index_files(index_dir):
        return False, f"astrometry.net has no index files: {INSTALL_HELP}"
    return True, ""


# ------------------------------------------------------------------- star list
def extract_stars(image, max_stars: int = 300, thresh: float = 5.0) -> np.ndarray:
    """Point sources for solving: ``(N, 3)`` x, y, flux (0-based), brightest first.

    sep (Source Extractor) after a mesh background; sources much larger than
    the PSF (the deep-sky objects themselves) and flagged blends are dropped.
    """
    import sep

    data = np.ascontiguousarray(image.gray(), dtype=np.float64)
    mask = image.mask if image.mask is not None and image.mask.any() else None
    bkg = sep.Background(data, mask=mask, bw=64, bh=64)
    sub = data - bkg.back()
    rms = max(float(bkg.globalrms), 1e-12)
    sep.set_extract_pixstack(max(300_000, data.size // 4))
    sep.set_sub_object_limit(4096)
    objs = None
    for t in (thresh, thresh * 2, thresh * 4, thresh * 8):
        try:
            objs = sep.extract(sub, t, err=rms, mask=mask, minarea=4)
            break
        except Exception:  # buffer overflow on crowded fields: raise the threshold
            continue
    if objs is None or len(objs) == 0:
        return np.zeros((0, 3))
    size = np.sqrt(objs["a"] * objs["b"])
    med = float(np.median(size))
    keep = (size < max(3 * med, 3.0)) & (objs["flux"] > 0) & ((objs["flag"] & 0b11110) == 0)
    objs = objs[keep]
    order = np.argsort(-objs["flux"])[:max_stars]
    return np.column_stack([objs["x"][order], objs["y"][order], objs["flux"][order]])


# -------------------------------------------------------------------- solving
def _write_xylist(path: Path, stars: np.ndarray, width: int, height: int) -> None:
    from astropy.io import fits

    # astrometry.net uses FITS pixel coordinates: the first pixel's centre is (1, 1).
    cols = [fits.Column(name="X", format="D", array=stars[:, 0] + 1.0),
            fits.Column(name="Y", format="D", array=stars[:, 1] + 1.0),
            fits.Column(name="FLUX", format="D", array=stars[:, 2])]
    hdu = fits.BinTableHDU.from_columns(cols)
    hdu.header["IMAGEW"], hdu.header["IMAGEH"] = width, height
    hdu.writeto(path, overwrite=True)


def _read_wcs(path: Path):
    import warnings

    from astropy.io import fits
    from astropy.wcs import WCS, FITSFixedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        return WCS(fits.getheader(path)).celestial


def _residual(corr_path: Path, wcs) -> tuple[float | None, int]:
    """RMS (arcsec) of matched star positions through ``wcs`` vs their index positions."""
    from astropy.io import fits

    try:
        with fits.open(corr_path) as hdul:
            t = hdul[1].data
            fx, fy = np.asarray(t["field_x"], float) - 1.0, np.asarray(t["field_y"], float) - 1.0
            ira, idec = np.asarray(t["index_ra"], float), np.asarray(t["index_dec"], float)
    except (OSError, KeyError, IndexError):
        return None, 0
    if len(fx) == 0:
        return None, 0
    ra, dec = wcs.all_pix2world(fx, fy, 0)
    from .catalog import _separation

    sep = _separation(ira, idec, ra, dec) * 3600.0
    return float(np.sqrt(np.mean(sep**2))), len(fx)


def _run(cmd, timeout):
    """Run solve-field; kill its whole process group after ``timeout`` s wall time.

    astrometry.net checks ``--cpulimit`` only between batches of stars, so a
    hopeless field can overrun it several times; the wall-clock kill bounds it.
    Returns the CompletedProcess, or None on timeout.
    """
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        return None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def solve_xy(stars: np.ndarray, width: int, height: int, hint: Hint | None = None, *,
             timeout: float = 60.0, index_dir=None, tweak_order: int = 1,
             max_residual_px: float = 1.5, keep_dir=None) -> Solution:
    """Solve a star list with astrometry.net's ``solve-field``.

    Parameters
    ----------
    stars : ndarray
        ``(N, 3)`` x, y (0-based array pixels), flux; brightest first is best.
    width, height : int
        Frame size, pixels.
    hint : Hint, optional
        Position and/or scale limits; None or an empty hint solves blind.
    timeout : float
        Seconds given to astrometry.net (``--cpulimit`` and a wall-clock kill).
    index_dir : path, optional
        Folder of index files instead of the system configuration.
    max_residual_px : float
        A solution whose matched stars sit further than this (RMS, pixels)
        from their index stars is rejected as a false match.

    Returns
    -------
    Solution
        ``ok`` False with a one-line ``message`` when unsolved or unavailable.
    """
    hint = hint or Hint()
    kind = "+".join(k for k, v in (("position", hint.has_position), ("scale", hint.has_scale)) if v) or "blind"
    ok, why = astrometry_status(index_dir)
    if not ok:
        return Solution(None, source="none", hint=kind, n_stars=len(stars), message=why)
    if len(stars) < 6:
        return Solution(None, source="none", hint=kind, n_stars=len(stars),
                        message=f"too few stars to solve ({len(stars)} found, need at least 6)")
    t0 = time.perf_counter()
    tmp = tempfile.mkdtemp(prefix="dsodetect-solve-", dir=keep_dir)
    try:
        work = Path(tmp)
        xy = work / "field.xyls"
        _write_xylist(xy, stars, width, height)
        cmd = ["solve-field", str(xy), "--width", str(width), "--height", str(height),
               "--x-column", "X", "--y-column", "Y", "--sort-column", "FLUX",
               "--no-plots", "--overwrite", "--dir", str(work), "--temp-dir", str(work),
               "--cpulimit", str(max(1, int(round(timeout)))), "--no-remove-lines",
               "--new-fits", "none", "--index-xyls", "none", "--rdls", "none", "--match", "none",
               "--corr", str(work / "field.corr"), "--wcs", str(work / "field.wcs"),
               "--crpix-center", "--tweak-order", str(tweak_order)]
        if hint.has_scale:
            cmd += ["--scale-units", "arcsecperpix", "--scale-low", f"{hint.scale_low:.5f}",
                    "--scale-high", f"{hint.scale_high:.5f}"]
        if hint.has_position:
            cmd += ["--ra", f"{hint.ra:.6f}", "--dec", f"{hint.dec:.6f}", "--radius", f"{hint.radius_deg:.4f}"]
        if index_dir is not None or os.environ.get("DSODETECT_INDEX_DIR"):
            cfg = work / "backend.cfg"
            d = index_dir or os.environ["DSODETECT_INDEX_DIR"]
            cfg.write_text(f"add_path {d}\nautoindex\n")
            cmd += ["--backend-config", str(cfg)]
        proc = _run(cmd, timeout)
        seconds = time.perf_counter() - t0
        if proc is None:
            return Solution(None, seconds, source="none", hint=kind, n_stars=len(stars),
                            message=f"no astrometric solution within {timeout:.0f} s "
                                    f"({len(stars)} stars, hint: {kind})")
        wcs_path = work / "field.wcs"
        if not wcs_path.exists():
            tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-1:] if proc.returncode else []
            why = f"no astrometric solution found ({len(stars)} stars, hint: {kind}, {seconds:.1f} s)"
            if tail:
                why += f"; solve-field: {tail[0][:160]}"
            return Solution(None, seconds, source="none", hint=kind, n_stars=len(stars), message=why)
        wcs = _read_wcs(wcs_path)
        wcs.pixel_shape = (width, height)
        residual, n_matched = _residual(work / "field.corr", wcs)
        from .geometry import pixel_scale

        if residual is not None and residual > max_residual_px * pixel_scale(wcs):
            # Good matches sit within a fraction of a pixel; a loose fit is a false match.
            return Solution(None, seconds, residual, source="none", hint=kind, n_stars=len(stars),
                            n_matched=n_matched,
                            message=f"rejected a doubtful solution (residual {residual / pixel_scale(wcs):.1f} px "
                                    f"over {n_matched} stars, limit {max_residual_px} px)")
        return Solution(wcs, seconds, residual, source="astrometry.net", hint=kind,
                        n_stars=len(stars), n_matched=n_matched)
    finally:
        if keep_dir is None:
            shutil.rmtree(tmp, ignore_errors=True)


def solve(image, hint: bool | Hint = True, *, timeout: float = 60.0, use_header_wcs: bool = True,
          index_dir=None, max_stars: int = 300, fallback: bool = True) -> Solution:
    """Astrometric solution of an :class:`~dsodetect.io.Image`.

    Parameters
    ----------
    image : Image
    hint : bool or Hint
        True: take position and scale from the FITS header when there
        (:func:`~dsodetect.identify.hints.hint_from_header`), else the scale
        of a preset whose full-frame size the image has
        (:func:`~dsodetect.identify.hints.hint_from_shape`); False: blind
        solve; a :class:`~dsodetect.identify.hints.Hint`: use it.
    timeout : float
        Seconds astrometry.net may spend, all attempts together (each at
        least 2 s): with fallbacks, the hinted attempt gets a quarter or 40 %
        of it, a scale-only one a third of what is left, the blind one the rest.
    use_header_wcs : bool
        Accept a celestial WCS already in the header (no solving), once it
        passes :func:`~dsodetect.io.headers.header_wcs_problem`.
    fallback : bool
        When a hinted solve finds no (credible) match, retry with the scale
        hint alone (a wrong pointing in the header), then blind. At most
        three attempts, within ``timeout`` together.

    Returns
    -------
    Solution
        Never raises for an unsolvable image or a missing astrometry.net:
        ``solution.ok`` is False and ``solution.message`` says why (with the
        install command when astrometry.net is missing). ``source`` and
        ``hint`` say what gave the result; ``tried`` lists every step.
    """
    from ..io.headers import header_wcs_problem

    h, w = image.shape
    tried = []
    if use_header_wcs:
        problem = (image.meta or {}).get("wcs_rejected")
        if image.wcs is not None:
            problem = header_wcs_problem(image.header, image.wcs) or (
                None if _plausible(image.wcs) else "the WCS pixel scale is degenerate or over 1 deg/px")
            if problem is None:
                wcs = image.wcs.deepcopy()
                wcs.pixel_shape = (w, h)
                return Solution(wcs, 0.0, None, source="header", tried=["header WCS: used"])
        if problem:
            tried.append(f"header WCS: refused ({problem})")
    if isinstance(hint, Hint):
        the_hint = hint
    elif hint:
        the_hint = hint_from_header(image.header)
        if not the_hint.has_scale:  # app JPEGs: the frame size may tell the telescope
            size = hint_from_shape(w, h)
            the_hint.scale_low, the_hint.scale_high = size.scale_low, size.scale_high
            the_hint.source = ", ".join(s for s in (the_hint.source, size.source) if s)
    else:
        the_hint = Hint()
    attempts = [the_hint]
    if fallback and the_hint.has_position and the_hint.has_scale:
        attempts.append(Hint(scale_low=the_hint.scale_low, scale_high=the_hint.scale_high,
                             source=the_hint.source))
    if fallback and not the_hint.empty:
        attempts.append(Hint())
    stars = extract_stars(image, max_stars=max_stars)
    total = 0.0
    for i, attempt in enumerate(attempts):
        # One time budget for all attempts: a right hint solves in a second or
        # two, a wrong one searches its region until the time is up, so each
        # hinted attempt gets a share and the last one all that is left.
        left = max(timeout - total, 0.0)
        share = left if i == len(attempts) - 1 else left * _SHARES[len(attempts)][i]
        sol = solve_xy(stars, w, h, attempt, timeout=max(share, _MIN_ATTEMPT_S), index_dir=index_dir)
        total += sol.seconds
        sol.seconds = total
        outcome = "solved" if sol.ok else f"no solution ({sol.message})" if sol.message else "no solution"
        tried.append(f"astrometry.net ({sol.hint or 'blind'}): {outcome}")
        sol.tried = tried
        if sol.ok or not _worth_retrying(sol) or i == len(attempts) - 1:
            if not sol.ok and len(tried) > 1:
                sol.message = "; ".join(tried)
            return sol
    return sol  # pragma: no cover - the loop always returns


#: Share of the time left given to each attempt but the last, by number of attempts.
_SHARES = {2: (0.4,), 3: (0.25, 0.35)}

#: Shortest time given to one attempt, seconds.
_MIN_ATTEMPT_S = 2.0


def _worth_retrying(sol: Solution) -> bool:
    """A failed solve another hint may fix: not a missing astrometry.net, nor too few stars.

    A wrong pointing in the header makes astrometry.net search the wrong
    region until its time is up, so a timeout is worth a retry too (the
    attempts share one time budget, see :func:`solve`).
    """
    text = sol.message
    return not (text.startswith("astrometry.net is not installed") or text.startswith("astrometry.net has no index")
                or text.startswith("too few stars"))


def _plausible(wcs) -> bool:
    """A header WCS with a finite, non-degenerate pixel scale below 1 degree."""
    try:
        m = wcs.celestial.pixel_scale_matrix
        det = abs(np.linalg.det(m))
    except Exception:
        return False
    return bool(np.all(np.isfinite(m)) and 0 < det and np.sqrt(det) < 1.0)
