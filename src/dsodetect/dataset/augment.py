"""Training augmentations through albumentations (boxes transformed with the image)."""

from __future__ import annotations

import numpy as np

__all__ = ["detection_augmentations", "classification_augmentations", "augment"]


def detection_augmentations(size: int = 640, strength: float = 1.0):
    """An albumentations pipeline for sky tiles with YOLO boxes.

    Geometric: flips, 90° turns, small rotations and scale changes (the sky
    has no up); photometric: brightness/contrast, gamma (other app stretches),
    hue shifts (white balance), Gaussian noise, blur (seeing), JPEG quality.
    Boxes that keep less than 30 % of their area are dropped.
    """
    import albumentations as A

    p = float(np.clip(strength, 0.0, 1.0))
    return A.Compose(
        [
            A.HorizontalFlip(p=0.5),
            A.VerticalFlip(p=0.5),
            A.RandomRotate90(p=0.5),
            A.Affine(scale=(0.85, 1.15), rotate=(-15, 15), border_mode=0, p=0.5 * p),
            A.RandomBrightnessContrast(brightness_limit=0.15, contrast_limit=0.2, p=0.6 * p),
            A.RandomGamma(gamma_limit=(70, 140), p=0.4 * p),
            A.HueSaturationValue(hue_shift_limit=8, sat_shift_limit=20, val_shift_limit=0, p=0.4 * p),
            A.GaussNoise(std_range=(0.01, 0.05), p=0.3 * p),
            A.GaussianBlur(blur_limit=(3, 5), p=0.2 * p),
            A.ImageCompression(quality_range=(60, 95), p=0.3 * p),
            A.Resize(size, size),
        ],
        bbox_params=A.BboxParams(format="yolo", label_fields=["class_labels"], min_visibility=0.3,
                                 clip=True),
    )


def classification_augmentations(size: int = 224, strength: float = 1.0):
    """Augmentations for presence-classifier crops (no boxes)."""
    import albumentations as A

    p = float(np.clip(strength, 0.0, 1.0))
    return A.Compose([
        A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5), A.RandomRotate90(p=0.5),
        A.RandomBrightnessContrast(brightness_limit=0.15, contrast_limit=0.2, p=0.6 * p),
        A.RandomGamma(gamma_limit=(70, 140), p=0.4 * p),
        A.GaussNoise(std_range=(0.01, 0.05), p=0.3 * p),
        A.ImageCompression(quality_range=(60, 95), p=0.3 * p),
        A.Resize(size, size),
    ])


def augment(pipeline, image: np.ndarray, boxes=None, seed: int | None = None):
    """Apply a pipeline to a uint8 RGB image and normalised YOLO boxes ``(N, 4)``.

    Returns ``(image, boxes)`` (boxes ``(M, 4)`` in YOLO ``xc, yc, w, h``).
    """
    if seed is not None:
        pipeline.set_random_seed(seed)
    if boxes is None:
        return pipeline(image=image)["image"], None
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    out = pipeline(image=image, bboxes=boxes, class_labels=[0] * len(boxes))
    return out["image"], np.asarray(out["bboxes"], dtype=np.float32).reshape(-1, 4)
