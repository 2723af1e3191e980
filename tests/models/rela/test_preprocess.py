"""Image preprocessing as the official mapper: EXIF orientation, RGB, PIL bilinear resize to S x S."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from grefbench.models.rela.preprocess import load_image, read_rgb_image, resize_image


def test_resize_is_pil_bilinear_without_keeping_aspect(tmp_path):
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)
    path = tmp_path / "image.png"
    Image.fromarray(array).save(path)
    tensor = load_image(path, size=32)
    assert tensor.dtype == torch.uint8 and tensor.shape == (3, 32, 32)
    expected = np.asarray(Image.fromarray(array).resize((32, 32), Image.BILINEAR))
    assert np.array_equal(tensor.permute(1, 2, 0).numpy(), expected)


def test_grayscale_and_alpha_become_rgb(tmp_path):
    gray = tmp_path / "gray.png"
    Image.fromarray(np.full((8, 8), 77, dtype=np.uint8), mode="L").save(gray)
    assert load_image(gray, size=8).eq(77).all()
    rgba = Image.fromarray(np.zeros((4, 4, 4), dtype=np.uint8), mode="RGBA")
    assert resize_image(rgba, 4).shape == (3, 4, 4)


def test_exif_orientation_is_applied(tmp_path):
    array = np.zeros((10, 20, 3), dtype=np.uint8)
    array[:, :5] = 255  # white stripe on the left of a landscape image
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif, quality=100)
    upright = read_rgb_image(path)
    assert upright.size == (10, 20)  # now portrait
    top = np.asarray(upright)[:4].mean()
    assert top > 200  # the left stripe is at the top after the rotation
