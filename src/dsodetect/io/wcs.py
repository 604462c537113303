"""World coordinate helpers shared by the simulator and plate solving."""

from __future__ import annotations

import numpy as np

__all__ = ["tan_wcs"]


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
