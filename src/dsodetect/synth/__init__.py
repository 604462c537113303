"""Synthetic smart-telescope skies with exact, visibility-based labels.

A physically grounded renderer: the presets carry each telescope's optics and
sensor (pixel scale from focal length and pixel size), stars follow number
counts by magnitude and galactic latitude with a Moffat PSF, galaxies are
Sersic bulge + disk (arms, dust lanes), nebulae turbulent fields in H-alpha /
OIII colours, clusters resolved King / Plummer star swarms. Sky (Bortle class,
moon, gradients) and sensor (shot and read noise of N x 10 s subs, hot pixels,
amp glow, trails) come next, then the app's look (stretch, colour balance,
JPEG). Labels follow visibility: an object gets a box only where its light
rises above ``snr_threshold`` times the stacked sky noise.

Plain Python API
----------------
>>> from dsodetect.synth import render_field, write_sample
>>> linear, jpeg, labels, header = render_field("vespera", seed=0, integration_s=600, size=640)
>>> header["EXPTIME"], len(labels) >= 0
(600.0, True)
>>> paths = write_sample("out/M51", preset="stellina", target="M51", integration_s=1800)  # doctest: +SKIP

* ``render_field(preset, seed, integration_s, target=None, size=None, **kw)``
  -> ``SynthField(linear, jpeg, labels, header)``: linear float32 ``(H, W, 3)``
  ADU (mean of subs + pedestal), decoded app JPEG ``uint8 (H, W, 3)``, a list of
  :class:`~dsodetect.detection.Detection` (pixel boxes, ``extras['kind']``),
  and a FITS header (EXPTIME = total integration, FOCALLEN, XPIXSZ, RA/DEC,
  TAN WCS).
* ``render_scene(...)`` -> :class:`Scene` with the JPEG bytes, the objects,
  stars and parameters as well. Useful keywords: ``ra``, ``dec``,
  ``rotation_deg`` (pointing), ``stars`` (``ra, dec, mag[, B-V]`` rows rendered
  through the WCS, for plate solving), ``kind`` (main object of a random
  scene), ``bortle``, ``moon``, ``fwhm_arcsec``, ``snr_threshold``,
  ``noise_seed``. One ``seed`` is one sky: growing ``integration_s`` stacks it
  longer (live mode).
* ``write_sample(stem, ...)`` writes ``stem.fits`` (linear ``(3, H, W)`` cube
  with the header), ``stem.jpg`` (app JPEG) and ``stem.txt`` (YOLO labels).
* ``make_dataset(out, n, ...)`` writes a YOLO data set of random fields.
"""

from ..telescopes import PRESETS, Preset, get_preset, pixel_scale

# Submodules load on first use (scikit-image's lazy_loader), so that `dsodetect --help`
# does not import everything; __init__.pyi lists the names for editors and type checkers.
import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
__all__ += ["PRESETS", "Preset", "get_preset", "pixel_scale"]
