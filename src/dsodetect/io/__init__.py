"""Image input: FITS (mono, RGB cubes, Bayer mosaics), JPEG, PNG, TIFF -> :class:`Image`."""

from .headers import HeaderValueWarning
from .image import (IMAGE_SUFFIXES, MAX_PIXELS, Image, ImageReadError, debayer, display_path, file_stem,
                    from_array, iter_image_paths, max_image_bytes, read_image)
from .stretch import asinh_stretch, auto_stretch, mtf, to_uint8
from .wcs import pixel_angle, tan_wcs

__all__ = ["Image", "ImageReadError", "read_image", "iter_image_paths", "file_stem", "from_array",
           "debayer", "tan_wcs", "pixel_angle", "auto_stretch", "asinh_stretch", "mtf", "to_uint8", "IMAGE_SUFFIXES", "MAX_PIXELS",
           "max_image_bytes", "display_path", "HeaderValueWarning"]
