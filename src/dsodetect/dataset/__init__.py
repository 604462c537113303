"""Data sets for the learned methods: YOLO read/write/validate, tiling, crops, splits, loaders.

>>> from dsodetect.dataset import validate_dataset, split_by_source
>>> split_by_source(["1003_0", "1003_1", "17_0"], fractions=(1, 0, 0))["train"]
['1003_0', '1003_1', '17_0']
>>> print(validate_dataset("data/real-train").summary())      # doctest: +SKIP

Modules: :mod:`.yolo` (labels, layouts, data.yaml, validation), :mod:`.tiling`
(608 px tiles with overlap, stitching), :mod:`.crops` (224 px presence crops),
:mod:`.split` (80/10/10 by source image), :mod:`.deepspace` (DeepSpaceYoloDataset
zip), :mod:`.augment` (albumentations pipelines).
"""

# Submodules load on first use (scikit-image's lazy_loader), so that `dsodetect --help`
# does not import everything; __init__.pyi lists the names for editors and type checkers.
import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
