"""Optics and sensor presets of the common smart telescopes.

One definition serves the simulator (noise, PSF), plate solving (scale hints
from the frame size) and anything else that needs a telescope's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Preset", "PRESETS", "get_preset", "pixel_scale"]


def pixel_scale(focal_mm: float, pixel_um: float, binning: int = 1) -> float:
    """Plate scale in arcsec per pixel: ``206.265 * pixel_um * binning / focal_mm``."""
    return 206.264806 * pixel_um * binning / focal_mm


@dataclass(frozen=True)
class Preset:
    """One smart telescope: optics, sensor and how the app stacks.

    Attributes
    ----------
    aperture_mm, focal_mm : float
        Objective diameter and focal length.
    pixel_um : float
        Sensor pixel pitch.
    width, height : int
        Full sensor frame in pixels (landscape unless the instrument is
        mounted in portrait, as the Seestar is).
    read_noise_e, gain_e_adu, full_well_e, dark_e_s : float
        Sensor at the gain the app uses; ``full_well_e`` is where a 10 s sub
        saturates at that gain (12-bit ADC on these sensors).
    qe : float
        Quantum efficiency times optical throughput (mean over R, G, B).
    sub_s : float
        Length of one sub-exposure (10 s on all three, kept short for alt-az).
    seeing_fwhm : tuple of float
        Range of stacked star FWHM in arcsec (seeing + optics + stacking).
    amp_glow : float
        Amplifier glow at the frame corner, e-/s/px (IMX462 glows, IMX178 barely).
    """

    name: str
    aperture_mm: float
    focal_mm: float
    pixel_um: float
    width: int
    height: int
    sensor: str
    read_noise_e: float = 1.5
    gain_e_adu: float = 0.5
    full_well_e: float = 2000.0
    dark_e_s: float = 0.05
    qe: float = 0.45
    sub_s: float = 10.0
    seeing_fwhm: tuple[float, float] = (3.0, 5.5)
    amp_glow: float = 0.0

    @property
    def scale(self) -> float:
        """Arcsec per pixel."""
        return pixel_scale(self.focal_mm, self.pixel_um)

    @property
    def field_arcmin(self) -> tuple[float, float]:
        """Field of view (width, height) in arcmin."""
        return self.width * self.scale / 60.0, self.height * self.scale / 60.0

    @property
    def area_m2(self) -> float:
        """Collecting area in m² (no central obstruction: these are refractors)."""
        import math

        return math.pi * (self.aperture_mm / 2000.0) ** 2

    @property
    def f_ratio(self) -> float:
        return self.focal_mm / self.aperture_mm


#: The built-in presets. IMX462 / IMX178 noise figures are the vendors' curves at
#: the high gain the apps use for 10 s subs.
PRESETS: dict[str, Preset] = {
    "stellina": Preset("stellina", 80.0, 400.0, 2.4, 3096, 2080, "IMX178",
                       read_noise_e=1.6, gain_e_adu=0.6, full_well_e=2400.0, dark_e_s=0.02,
                       qe=0.42, seeing_fwhm=(3.5, 6.5), amp_glow=0.0),
    "vespera": Preset("vespera", 50.0, 200.0, 2.9, 1920, 1080, "IMX462",
                      read_noise_e=1.0, gain_e_adu=0.4, full_well_e=1600.0, dark_e_s=0.05,
                      qe=0.45, seeing_fwhm=(5.0, 8.5), amp_glow=0.6),
    "seestar": Preset("seestar", 50.0, 250.0, 2.9, 1080, 1920, "IMX462",
                      read_noise_e=1.0, gain_e_adu=0.4, full_well_e=1600.0, dark_e_s=0.05,
                      qe=0.45, seeing_fwhm=(4.5, 7.5), amp_glow=0.6),
}


def get_preset(name) -> Preset:
    """A :class:`Preset` by name (case-insensitive; ``seestar_s50`` works too)."""
    if isinstance(name, Preset):
        return name
    key = str(name).lower().replace("-", "_").replace(" ", "_")
    key = {"seestar_s50": "seestar", "s50": "seestar"}.get(key, key)
    if key not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return PRESETS[key]
