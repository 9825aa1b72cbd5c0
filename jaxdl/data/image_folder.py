"""A folder of image files (a benchmark such as Set5 / Set14 / BSD100 as downloaded, or a user's
photos) read as RGB uint8 arrays. SPEC: RES-5."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxdl.images import read_rgb

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def list_images(folder: str) -> list[Path]:
    """The image files directly in `folder`, sorted by name; FileNotFoundError naming the folder
    when it is missing or holds no images."""
    path = Path(folder)
    if not path.is_dir():
        raise FileNotFoundError(f"{folder!r} is not a folder")
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder!r}")
    return files


def read_folder(folder: str) -> tuple[dict[str, np.ndarray], list[str]]:
    """`({file stem: uint8 (H, W, 3)}, notes)`: grey and RGBA files are converted to RGB
    (`jaxdl.images.read_rgb`) and each conversion is named in `notes`."""
    images, notes = {}, []
    for p in list_images(folder):
        rgb, note = read_rgb(str(p))
        images[p.stem] = rgb
        if note:
            notes.append(note)
    return images, notes
