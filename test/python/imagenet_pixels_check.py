"""l2w's ImageNet transforms give the reference's pixels, byte for byte (docs/imagenet_pixels.md).

Generates images of many sizes and aspect ratios in the formats ImageNet folders hold (baseline and
progressive JPEG, 4:2:0 and 4:4:4, grey and CMYK JPEG; PNG in RGB, RGBA, grey, grey+alpha and palette),
runs them through l2w's transforms (the l2w_image_transform_dump test binary) and through the reference's
pipeline, and requires equal bytes:
  evaluation: PIL.Image.open(f).convert('RGB'), torchvision's Resize(256) (Pillow's bilinear resize to
              the size torchvision computes), CenterCrop(224), as ToTensor lays them out (CHW);
  training:   crop to a box, resize to 224 x 224, optionally mirrored (RandomResizedCrop given its box,
              then RandomHorizontalFlip).
torchvision is not needed: its size and crop rules are the few lines below, as torchvision 0.11 (the
reference's) and today's write them.

Pillow's resize runs a horizontal pass, rounds to bytes, then a vertical pass, as the reference's Pillow
did and as l2w does. Pillow 13 runs the vertical pass first when the height shrinks and the rows removed
exceed twice the columns removed; for those resizes the reference is the reference's order, spelt as two
one-axis Pillow resizes, and the check also confirms that this is the only way Pillow 13 differs.

Usage: imagenet_pixels_check.py DUMP_BINARY WORK_DIR
"""
import functools
import os
import random
import subprocess
import sys

import numpy as np
from PIL import Image


def photo_like(w, h, seed):
    """Smooth colour fields with edges and noise: JPEG treats it as a photograph, and resampling has work."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    channels = []
    for c in range(3):
        a, b = rng.uniform(0.005, 0.08, size=2)
        v = 128 + 70 * np.sin(a * x * (c + 1) + b * y) + 40 * np.cos(0.3 * x - 0.2 * y + c)
        v += (x > w * rng.uniform(0.2, 0.8)) * 50 - 25
        v += rng.normal(0, 12, size=(h, w))
        channels.append(v)
    return Image.fromarray(np.clip(np.stack(channels, axis=2), 0, 255).astype(np.uint8), "RGB")


SIZES = [  # (width, height)
    (500, 375), (375, 500), (640, 480), (480, 640), (333, 257), (257, 333), (256, 256), (224, 224),
    (300, 256), (256, 301), (301, 299), (1023, 767), (100, 80), (37, 53), (53, 37), (7, 12), (160, 600),
    (600, 160), (300, 700), (700, 300), (260, 1100), (900, 257), (257, 900), (1, 40), (40, 1), (512, 1024),
]

FORMATS = {
    "jpeg420": lambda im, p: im.save(p + ".jpg", quality=90),
    "jpeg444": lambda im, p: im.save(p + ".jpg", quality=95, subsampling=0),
    "jpeg422": lambda im, p: im.save(p + ".jpg", quality=85, subsampling=1),
    "progressive": lambda im, p: im.save(p + ".jpg", quality=90, progressive=True),
    "grey_jpeg": lambda im, p: im.convert("L").save(p + ".jpg", quality=90),
    "cmyk_jpeg": lambda im, p: im.convert("CMYK").save(p + ".jpg", quality=95),
    "png": lambda im, p: im.save(p + ".png", compress_level=1),
    "rgba_png": lambda im, p: with_alpha(im).save(p + ".png", compress_level=1),
    "grey_png": lambda im, p: im.convert("L").save(p + ".png", compress_level=1),
    "grey_alpha_png": lambda im, p: with_alpha(im).convert("LA").save(p + ".png", compress_level=1),
    "palette_png": lambda im, p: im.quantize(200, method=Image.Quantize.FASTOCTREE).save(p + ".png", compress_level=1),
}


def with_alpha(im):
    rgba = im.convert("RGBA")
    alpha = np.linspace(0, 255, im.width * im.height).reshape(im.height, im.width).astype(np.uint8)
    rgba.putalpha(Image.fromarray(alpha, "L"))
    return rgba


def pillow13_goes_vertical_first(w, h, new_w, new_h):
    return new_w != w and new_h < h and (h - new_h) > 2 * (w - new_w)


resizes = {"direct": 0, "two_pass": 0}


def resize(im, new_w, new_h):
    """Pillow's bilinear resize as the reference's Pillow ran it: horizontal pass first."""
    w, h = im.size
    direct = im.resize((new_w, new_h), Image.BILINEAR)
    horizontal_first = im.resize((new_w, h), Image.BILINEAR).resize((new_w, new_h), Image.BILINEAR)
    if pillow13_goes_vertical_first(w, h, new_w, new_h):
        vertical_first = im.resize((w, new_h), Image.BILINEAR).resize((new_w, new_h), Image.BILINEAR)
        # Newer Pillow: the one difference is the order of the passes; older Pillow: none at all.
        assert np.array_equal(np.asarray(direct), np.asarray(vertical_first)) or np.array_equal(
            np.asarray(direct), np.asarray(horizontal_first)), (w, h, new_w, new_h)
        resizes["two_pass"] += 1
        return horizontal_first
    assert np.array_equal(np.asarray(direct), np.asarray(horizontal_first)), (w, h, new_w, new_h)
    resizes["direct"] += 1
    return direct


def torchvision_resize(im, size):
    """torchvision's Resize(int): the shorter side to `size`, the longer int(size * long / short)."""
    w, h = im.size
    short, long = (w, h) if w <= h else (h, w)
    if short == size:
        return im
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    return resize(im, new_w, new_h)


def torchvision_center_crop(im, size):
    """torchvision's CenterCrop: zero padding where the image is smaller, offsets by Python's round()."""
    w, h = im.size
    if size > w or size > h:
        left, top = ((size - w) // 2 if size > w else 0), ((size - h) // 2 if size > h else 0)
        right, bottom = ((size - w + 1) // 2 if size > w else 0), ((size - h + 1) // 2 if size > h else 0)
        padded = Image.new("RGB", (w + left + right, h + top + bottom))
        padded.paste(im, (left, top))
        im = padded
        w, h = im.size
        if (w, h) == (size, size):
            return im
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return im.crop((left, top, left + size, top + size))


def chw(im):
    return np.ascontiguousarray(np.asarray(im.convert("RGB")).transpose(2, 0, 1)).tobytes()


@functools.lru_cache(maxsize=1)
def opened(path):
    """PIL.Image.open(path).convert('RGB'), decoded once for the five transforms of each file (none of
    them modifies it: crop, resize and transpose return new images)."""
    return Image.open(path).convert("RGB")


def reference_eval(path, resize_to, size):
    return chw(torchvision_center_crop(torchvision_resize(opened(path), resize_to), size))


def reference_crop(path, size, top, left, height, width, flip):
    im = opened(path).crop((left, top, left + width, top + height))
    im = resize(im, size, size)
    return chw(im.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if flip else im)


def main(dump, work):
    os.makedirs(work, exist_ok=True)
    rng = random.Random(0)
    jobs, expected = [], []
    for i, (w, h) in enumerate(SIZES):
        im = photo_like(w, h, i)
        for name, save in FORMATS.items():
            stem = os.path.join(work, f"{w}x{h}_{name}")
            save(im, stem)
            path = stem + (".png" if "png" in name else ".jpg")
            jobs.append(f"eval 224 256 {path}")
            expected.append((path, "eval 224 256", reference_eval(path, 256, 224)))
            # Evaluation at other sizes: a crop larger than the resized image (zero padding), a small one.
            for size, resize_to in ((96, 64), (32, 36)):
                jobs.append(f"eval {size} {resize_to} {path}")
                expected.append((path, f"eval {size} {resize_to}", reference_eval(path, resize_to, size)))
            # RandomResizedCrop's resampling, given its box: random boxes of any shape.
            for _ in range(2):
                bw, bh = rng.randint(1, w), rng.randint(1, h)
                top, left, flip = rng.randint(0, h - bh), rng.randint(0, w - bw), rng.randint(0, 1)
                jobs.append(f"crop 224 {top} {left} {bh} {bw} {flip} {path}")
                expected.append((path, f"crop {top},{left},{bh},{bw} flip {flip}",
                                 reference_crop(path, 224, top, left, bh, bw, flip)))
    with open(os.path.join(work, "jobs.txt"), "w") as f:
        f.write("\n".join(jobs) + "\n")
    out = os.path.join(work, "l2w.bin")
    subprocess.run([dump, os.path.join(work, "jobs.txt"), out], check=True)
    got = open(out, "rb").read()
    offset, failures, differing = 0, 0, 0
    for path, what, want in expected:
        mine = got[offset:offset + len(want)]
        offset += len(want)
        if mine != want:
            diff = np.frombuffer(mine, np.uint8).astype(int) - np.frombuffer(want, np.uint8).astype(int)
            failures += 1
            differing += int(np.count_nonzero(diff))
            if failures <= 10:
                print(f"DIFFERENT {os.path.basename(path)} {what}: {np.count_nonzero(diff)} bytes, "
                      f"largest difference {np.abs(diff).max()}")
    assert offset == len(got), f"l2w wrote {len(got)} bytes, expected {offset}"
    print(f"{len(expected)} transforms of {len(SIZES) * len(FORMATS)} images ({len(SIZES)} sizes x "
          f"{len(FORMATS)} formats); Pillow resizes checked: {resizes['direct']} direct, "
          f"{resizes['two_pass']} in the reference's pass order; {failures} differ ({differing} bytes)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
