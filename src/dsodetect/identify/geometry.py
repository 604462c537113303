"""Where a catalog object falls on the image: its pixel ellipse and box through a WCS."""

from __future__ import annotations

import numpy as np

from ..io.wcs import pixel_angle
from .catalog import CatalogObject

__all__ = ["object_ellipse", "object_box", "ellipse_box", "pixel_scale", "field_center_radius"]

#: Catalog objects without a size (or smaller than this) are drawn this big, pixels.
MIN_RADIUS_PX = 3.0


def pixel_scale(wcs) -> float:
    """Mean pixel scale of a celestial WCS, arcsec/px."""
    from astropy.wcs.utils import proj_plane_pixel_scales

    return float(np.mean(proj_plane_pixel_scales(wcs.celestial))) * 3600.0


def field_center_radius(wcs, width: int, height: int) -> tuple[float, float, float]:
    """``(ra, dec, radius_deg)`` of the circle through the frame's corners."""
    from astropy.coordinates import SkyCoord
    import astropy.units as u

    pts = np.array([[(width - 1) / 2, (height - 1) / 2], [-0.5, -0.5], [width - 0.5, -0.5],
                    [-0.5, height - 0.5], [width - 0.5, height - 0.5]])
    world = wcs.all_pix2world(pts, 0)
    c = SkyCoord(world[:, 0] * u.deg, world[:, 1] * u.deg)
    return float(world[0, 0]), float(world[0, 1]), float(c[0].separation(c[1:]).deg.max())


def object_ellipse(obj: CatalogObject, wcs) -> tuple[float, float, float, float, float]:
    """``(x, y, a, b, theta)``: centre, semi-axes (px) and angle of the major axis from +x (rad).

    The position angle (north through east) is mapped through the WCS, so
    rotated and mirrored frames are right. Objects with no size get
    :data:`MIN_RADIUS_PX`.
    """
    (x, y), = wcs.all_world2pix([[obj.ra, obj.dec]], 0)
    scale = pixel_scale(wcs)
    major = obj.major_arcmin or 0.0
    minor = obj.minor_arcmin or major
    a = max(major * 60.0 / scale / 2.0, MIN_RADIUS_PX)
    b = max(minor * 60.0 / scale / 2.0, MIN_RADIUS_PX)
    theta = pixel_angle(wcs, obj.ra, obj.dec, obj.pa_deg or 0.0)
    return float(x), float(y), float(a), float(min(b, a)), theta


def object_box(obj: CatalogObject, wcs) -> tuple[float, float, float, float]:
    """Axis-aligned pixel box ``(x0, y0, x1, y1)`` around the object's ellipse."""
    return ellipse_box(*object_ellipse(obj, wcs))


def ellipse_box(x: float, y: float, a: float, b: float, t: float) -> tuple[float, float, float, float]:
    """Axis-aligned box around the ellipse of centre ``(x, y)``, semi-axes ``a, b``, angle ``t`` (rad)."""
    hw = np.hypot(a * np.cos(t), b * np.sin(t))
    hh = np.hypot(a * np.sin(t), b * np.cos(t))
    return (x - hw, y - hh, x + hw, y + hh)
