"""Draw the integration's brand images into custom_components/flatpeak/brand/.

An original mark, not Flatpeak's trademark: in a rounded square, a day's price curve whose
peak is held flat at a dashed level, struck by a lightning bolt. Everything is drawn at
four times the target size and downsampled, so edges are antialiased.

Run with `scripts/run python scripts/make_brand.py`. The output depends only on this
script and the font (DejaVu Sans Bold where the machine has it).
"""

from __future__ import annotations

from itertools import pairwise
import math
from pathlib import Path
import sys

from PIL import Image, ImageDraw, ImageFont

BRAND_DIR = (
    Path(__file__).resolve().parent.parent / "custom_components" / "flatpeak" / "brand"
)
SUPERSAMPLE = 4

type Colour = tuple[int, int, int]
type Point = tuple[float, float]

# A night-blue to teal square, a white price curve, an amber bolt.
TOP: Colour = (22, 46, 92)
BOTTOM: Colour = (12, 128, 120)
AMBER: Colour = (255, 196, 61)
WHITE: Colour = (255, 255, 255)
LEVEL_ALPHA = 110  # the dashed level is a faint white
INK: Colour = (23, 37, 58)  # the word on light backgrounds (logo.png)
PAPER: Colour = (236, 241, 247)  # the word on dark backgrounds (dark_logo.png)

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
    "/Library/Fonts/DejaVuSans-Bold.ttf",
)
WORD = "Flatpeak"


def _price_curve(left: float, right: float, low: float, high: float) -> list[Point]:
    """Sample a day's prices: cheap at both ends, a peak in the middle, flat on top.

    The product of a rising and a falling logistic gives smooth shoulders and a level
    plateau.
    """
    steps = 240
    points: list[Point] = []
    for step in range(steps + 1):
        u = step / steps
        rise = 1 / (1 + math.exp(-24 * (u - 0.31)))
        fall = 1 / (1 + math.exp(24 * (u - 0.69)))
        points.append((left + (right - left) * u, low + (high - low) * rise * fall))
    return points


def _bolt(cx: float, cy: float, height: float) -> list[Point]:
    """Return a lightning bolt polygon centred on (cx, cy), `height` tall."""
    unit = [
        (0.10, -0.50),
        (-0.26, 0.06),
        (-0.02, 0.06),
        (-0.12, 0.50),
        (0.26, -0.08),
        (0.02, -0.08),
        (0.12, -0.50),
    ]
    return [(cx + x * height, cy + y * height) for x, y in unit]


def _stroke(
    draw: ImageDraw.ImageDraw,
    points: list[Point],
    width: float,
    fill: tuple[int, ...],
) -> None:
    """Draw a polyline with round joins and round caps."""
    radius = width / 2
    for a, b in pairwise(points):
        draw.line([a, b], fill=fill, width=round(width))
    for x, y in points:
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=fill)


def _gradient(size: int) -> Image.Image:
    """Fill a square from TOP to BOTTOM, slightly diagonally (small, then scaled)."""
    small = 128
    image = Image.new("RGB", (small, small))
    for y in range(small):
        for x in range(small):
            t = min(1.0, (0.85 * y + 0.15 * x) / (small - 1))
            image.putpixel(
                (x, y),
                (
                    round(TOP[0] + (BOTTOM[0] - TOP[0]) * t),
                    round(TOP[1] + (BOTTOM[1] - TOP[1]) * t),
                    round(TOP[2] + (BOTTOM[2] - TOP[2]) * t),
                ),
            )
    return image.resize((size, size), Image.Resampling.BICUBIC)


def draw_mark(size: int) -> Image.Image:
    """Draw the square mark, `size` pixels wide, on a transparent background."""
    big = size * SUPERSAMPLE
    margin = big * 0.03

    mask = Image.new("L", (big, big), 0)
    ImageDraw.Draw(mask).rounded_rectangle(
        (margin, margin, big - margin, big - margin), radius=big * 0.22, fill=255
    )
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    image.paste(_gradient(big), (0, 0), mask)

    left, right, low, high = big * 0.16, big * 0.84, big * 0.76, big * 0.54

    # The dashed level the peak is held to, faint, on its own layer so it blends.
    level = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    level_draw = ImageDraw.Draw(level)
    dashes = 7
    dash = (right - left) / (dashes + (dashes - 1) * 0.7)
    for index in range(dashes):
        start = left + index * dash * 1.7
        _stroke(
            level_draw,
            [(start, high), (start + dash, high)],
            big * 0.022,
            (*WHITE, LEVEL_ALPHA),
        )
    image.alpha_composite(level)

    draw = ImageDraw.Draw(image)
    _stroke(draw, _price_curve(left, right, low, high), big * 0.062, WHITE)
    draw.polygon(_bolt(big * 0.5, big * 0.305, big * 0.40), fill=AMBER)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def _font(pixels: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans Bold at `pixels`, or Pillow's built-in font where it is missing."""
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return ImageFont.truetype(candidate, pixels)
    print("DejaVu Sans Bold not found; using Pillow's default font", file=sys.stderr)
    return ImageFont.load_default(pixels)


def _word_layout(
    big_h: int,
) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, float, float, float]:
    """Return the font, x, baseline and right edge of the word beside a mark."""
    font = _font(math.floor(big_h * 0.52))
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    x = big_h * 1.14
    # Centre the word's capital height (not its descender) on the mark.
    cap_height = -probe.textbbox((0, 0), WORD, font=font, anchor="ls")[1]
    baseline = (big_h + cap_height) / 2
    right = probe.textbbox((x, baseline), WORD, font=font, anchor="ls")[2]
    return font, x, baseline, right


def logo_width(height: int) -> int:
    """Return the logo's width at `height`: up to the word's end, trimmed.

    Measured once at 1x (128 px high) and scaled, so @2x is exactly twice 1x.
    """
    base = 128
    right = _word_layout(base * SUPERSAMPLE)[3]
    return math.ceil(right / SUPERSAMPLE + 1) * height // base


def draw_logo(height: int, ink: Colour) -> Image.Image:
    """Draw the mark and the word, `height` pixels high, on a transparent background."""
    width = logo_width(height)
    big_w, big_h = width * SUPERSAMPLE, height * SUPERSAMPLE
    image = Image.new("RGBA", (big_w, big_h), (0, 0, 0, 0))
    image.alpha_composite(draw_mark(big_h))
    font, x, baseline, _ = _word_layout(big_h)
    ImageDraw.Draw(image).text(
        (x, baseline), WORD, font=font, fill=(*ink, 255), anchor="ls"
    )
    return image.resize((width, height), Image.Resampling.LANCZOS)


def main() -> None:
    """Write every brand image."""
    BRAND_DIR.mkdir(parents=True, exist_ok=True)
    outputs = {
        "icon.png": draw_mark(256),
        "icon@2x.png": draw_mark(512),
        "logo.png": draw_logo(128, INK),
        "logo@2x.png": draw_logo(256, INK),
        "dark_logo.png": draw_logo(128, PAPER),
        "dark_logo@2x.png": draw_logo(256, PAPER),
    }
    for name, image in outputs.items():
        image.save(BRAND_DIR / name, optimize=True)
        print(f"{name}: {image.width}x{image.height}")


if __name__ == "__main__":
    main()
