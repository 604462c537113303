"""Names of this package for editors and type checkers; the package loads them lazily (lazy_loader)."""

from .dataset import (make_dataset as make_dataset)
from .render import (SCENE_WEIGHTS as SCENE_WEIGHTS, Scene as Scene, SynthField as SynthField, make_wcs as make_wcs, render_field as render_field, render_scene as render_scene, write_sample as write_sample)
