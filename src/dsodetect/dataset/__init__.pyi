"""Names of this package for editors and type checkers; the package loads them lazily (lazy_loader)."""

from .crops import (crop_label as crop_label, make_crop_dataset as make_crop_dataset, random_crops as random_crops)
from .deepspace import (load_deepspace as load_deepspace)
from .split import (source_id as source_id, split_by_source as split_by_source, write_split as write_split)
from .tiling import (labels_in_tile as labels_in_tile, tile_dataset as tile_dataset, tile_frame as tile_frame)
from .yolo import (CLASS_NAMES as CLASS_NAMES, SPLITS as SPLITS, LabelFile as LabelFile, Sample as Sample, ValidationReport as ValidationReport, find_samples as find_samples, label_path_for as label_path_for, parse_labels as parse_labels, read_data_yaml as read_data_yaml, read_labels as read_labels, validate_dataset as validate_dataset, write_data_yaml as write_data_yaml, write_labels as write_labels)
