"""Render the sample stack that ships in examples/ (synthetic; no real data is redistributed).

    .venv/bin/python examples/make_sample.py

Writes ``NGC7000_vespera_app.jpg`` (the app's JPEG), ``NGC7000_vespera.fits.gz``
(the linear stack as 16-bit integers with BZERO/BSCALE, gzip-compressed, with
EXPTIME, FOCALLEN, XPIXSZ, RA/DEC and a TAN WCS) and ``NGC7000_vespera.txt``
(the simulator's exact YOLO labels), a 960x640 cut of a 30-minute Vespera stack.
"""

from pathlib import Path

import numpy as np
from astropy.io import fits

from dsodetect.synth import write_sample

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    out = write_sample(HERE / "NGC7000_vespera", preset="vespera", seed=7, integration_s=1800,
                       target="NGC7000", size=(960, 640), fits=False)
    out["jpeg"].replace(HERE / "NGC7000_vespera_app.jpg")  # a distinct stem: distinct output files
    scene = out["scene"]
    hdu = fits.PrimaryHDU(np.moveaxis(scene.linear, -1, 0).astype(np.float32), header=scene.header)
    hdu.scale("int16", option="minmax")  # 16 bits keep the stack's noise; halves the file
    hdu.writeto(HERE / "NGC7000_vespera.fits.gz", overwrite=True)
    print("wrote", *sorted(p.name for p in HERE.glob("NGC7000_vespera*")))
