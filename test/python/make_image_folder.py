"""Writes a small ImageNet-style folder for l2w's end-to-end test (Pillow, in the Python l2w was built against):
DIR/{train,val}/<class>/ with JPEG and PNG images of odd sizes, a grey one, and in train one corrupt JPEG.

Usage: make_image_folder.py DIR
"""
import os
import random
import sys

from PIL import Image


def image(w, h, seed, mode="RGB"):
    rng = random.Random(seed)
    im = Image.new("RGB", (w, h))
    base = [rng.randrange(256) for _ in range(3)]
    im.putdata([((x * 255 // w + base[0]) % 256, (y * 255 // h + base[1]) % 256, base[2])
                for y in range(h) for x in range(w)])
    return im.convert(mode)


def main(root):
    rng = random.Random(0)
    for split, per_class in (("train", 8), ("val", 4)):
        for c, name in enumerate(("n01440764", "n01443537", "n01484850")):
            d = os.path.join(root, split, name)
            os.makedirs(d, exist_ok=True)
            for i in range(per_class):
                w, h = rng.randrange(40, 320), rng.randrange(40, 320)
                mode = "L" if i == 0 else "RGB"
                if i % 3 == 2:
                    image(w, h, c * 100 + i, mode).save(os.path.join(d, f"img_{i}.png"))
                else:
                    image(w, h, c * 100 + i, mode).save(os.path.join(d, f"img_{i}.JPEG"), quality=90)
    with open(os.path.join(root, "train", "n01443537", "corrupt.JPEG"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 this JPEG stops here")


if __name__ == "__main__":
    main(sys.argv[1])
