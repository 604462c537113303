"""World coordinate helpers shared by the simulator and plate solving."""

from __future__ import annotations

import numpy as np

__all__ = ["tan_wcs", "pixel_angle"]


def tan_wcs(ra: float, dec: float, scale_arcsec: float, width: int, height: int,
            rotation_deg: float = 0.0, flip: bool = False):
    """A gnomonic (TAN) WCS centred on the frame at ``(ra, dec)``.

    North is up (+y) and east left at rotation 0; ``rotation_deg`` turns the
    sky counter-clockwise on the image; ``flip`` mirrors it (east right).

    Parameters
    ----------
    ra, dec : float
        Field centre, degrees.
    scale_arcsec : float
        Pixel scale, arcsec/px.
    width, height : int
        Frame size in pixels.

    Returns
    -------
    astropy.wcs.WCS
    """
    from astropy.wcs import WCS

    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [float(ra) % 360.0, float(dec)]
    w.wcs.crpix = [(width + 1) / 2.0, (height + 1) / 2.0]
    s = scale_arcsec / 3600.0
    c, n = np.cos(np.radians(rotation_deg)), np.sin(np.radians(rotation_deg))
    cd = s * np.array([[-c, n], [n, c]])
    if flip:
        cd[:, 0] *= -1
    w.wcs.cd = cd
    w.wcs.radesys = "ICRS"
    w.wcs.equinox = 2000.0
    w.pixel_shape = (width, height)
    return w


def pixel_angle(wcs, ra: float, dec: float, pa_deg: float) -> float:
    """Angle from +x in pixel space (radians) of position angle ``pa_deg`` (east of north) at ``(ra, dec)``.

    Steps one arcminute along the position angle on the sky and maps both
    ends through the WCS, so rotated and mirrored frames come out right.
    """
    d = 1.0 / 60.0
    pa = np.radians(pa_deg)
    ra2 = ra + d * np.sin(pa) / max(np.cos(np.radians(dec)), 1e-6)
    dec2 = dec + d * np.cos(pa)
    (x0, y0), (x1, y1) = wcs.all_world2pix([[ra, dec], [ra2, dec2]], 0)
    return float(np.arctan2(y1 - y0, x1 - x0))
