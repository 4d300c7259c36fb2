"""Draw the app icon: posture/assets/posture.png (128 px) and posture/assets/posture.ico.

A teal rounded square with a white seated figure whose head sits upright over the shoulders.
Drawn at 4x and downsampled, because Pillow's ImageDraw does not antialias. Deterministic for a
given Pillow version; the outputs are committed, so run this only when changing the design:

    .venv/bin/python scripts/make_icon.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

ASSETS = Path(__file__).resolve().parents[1] / "posture" / "assets"
SIZE = 128
SCALE = 4
TEAL = (0, 128, 128, 255)
WHITE = (255, 255, 255, 255)


def draw(size: int = SIZE) -> Image.Image:
    big = size * SCALE
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    u = big / 32  # drawing unit: the design is laid out on a 32 x 32 grid
    d.rounded_rectangle((0, 0, big - 1, big - 1), radius=round(6 * u), fill=TEAL)
    w = round(2.4 * u)
    # head, upright over the shoulders
    d.ellipse((12.5 * u, 4.5 * u, 18.5 * u, 10.5 * u), fill=WHITE)
    # straight back from the neck to the seat, thigh forward, shin down
    d.line([(15.5 * u, 11.5 * u), (15 * u, 20 * u)], fill=WHITE, width=w, joint="curve")
    d.line(
        [(15 * u, 20 * u), (23 * u, 20.5 * u), (23 * u, 27 * u)], fill=WHITE, width=w, joint="curve"
    )
    # arm resting forward
    d.line([(15.5 * u, 13 * u), (20.5 * u, 16.5 * u)], fill=WHITE, width=round(1.8 * u))
    # chair: back and seat
    d.line([(10.5 * u, 12 * u), (10.5 * u, 27 * u)], fill=WHITE, width=round(1.4 * u))
    d.line([(10.5 * u, 22.5 * u), (20 * u, 22.5 * u)], fill=WHITE, width=round(1.4 * u))
    return img.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    ASSETS.mkdir(parents=True, exist_ok=True)
    icon = draw()
    icon.save(ASSETS / "posture.png", optimize=True)
    icon.save(ASSETS / "posture.ico", sizes=[(16, 16), (32, 32), (48, 48)])
    for name in ("posture.png", "posture.ico"):
        print(f"{name}: {(ASSETS / name).stat().st_size} bytes")


if __name__ == "__main__":
    main()
