"""Writes the bad-image corpus in ``images/`` (committed; run again to remake it):

python tests/data/bad/make_images.py
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent / "images"


def rgb(size: tuple[int, int] = (16, 12)) -> Image.Image:
    return Image.new("RGB", size, (200, 40, 40))


def main() -> None:
    HERE.mkdir(exist_ok=True)
    noise = Image.frombytes("RGB", (24, 16), bytes((i * 7919) % 251 for i in range(24 * 16 * 3)))
    for fmt, cut in (("PNG", 0.9), ("JPEG", 0.6)):
        whole = io.BytesIO()
        noise.save(whole, format=fmt)
        data = whole.getvalue()
        (HERE / f"truncated.{fmt.lower()}").write_bytes(data[: int(len(data) * cut)])
    (HERE / "zero-byte.png").write_bytes(b"")
    (HERE / "not-an-image.jpg").write_bytes(b"<html><body>404 Not Found</body></html>\n")
    rgb().convert("CMYK").save(HERE / "cmyk.jpg", format="JPEG")
    Image.new("I;16", (16, 12), 40000).save(HERE / "sixteen-bit.png", format="PNG")
    rgb().convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(HERE / "palette.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    rgb((16, 12)).save(HERE / "exif-rotated.jpg", format="JPEG", exif=exif.tobytes())
    frames = [Image.new("RGB", (16, 12), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(
        HERE / "animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0
    )
    rgb().save(HERE / "fine.png", format="PNG")


if __name__ == "__main__":
    main()
