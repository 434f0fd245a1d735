"""Procedurally drawn demo images, so a fresh clone can run a real style transfer offline.

`content_scene` is a small landscape (sky gradient, sun, hills, houses, a tree) and
`style_picture` a bold swirl-and-stroke "painting"; both are deterministic for a seed.
`python -m nstcli.samples DIR` writes `content.png` and `style.png` into DIR.
`camera_move` films a picture with a known motion (pan, zoom, a moving object): the clips
of the video tests and of bench/video.py.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from nstcli.engine.atomic import atomic_write


def content_scene(width: int = 512, height: int = 384, seed: int = 0) -> Image.Image:
    """A simple landscape with clear objects and edges (what content loss should keep)."""
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):  # sky: deep blue at the top, pale near the horizon
        t = y / max(1, height - 1)
        draw.line(
            [(0, y), (width, y)], fill=(int(70 + 150 * t), int(130 + 90 * t), int(220 + 30 * t))
        )
    sun = (int(width * 0.78), int(height * 0.22))
    radius = max(4, height // 10)
    draw.ellipse(
        [sun[0] - radius, sun[1] - radius, sun[0] + radius, sun[1] + radius], fill=(255, 220, 90)
    )
    for layer, colour in enumerate([(70, 130, 70), (50, 105, 55)]):  # two rows of hills
        base = height * (0.62 + 0.12 * layer)
        points = [(0, height)]
        for x in range(0, width + 8, 8):
            y = base - height * 0.08 * math.sin(x / width * math.pi * (2 + layer) + layer)
            points.append((x, y))
        points.append((width, height))
        draw.polygon(points, fill=colour)
    for index in range(4):  # houses with roofs, doors and windows
        w = width // 9
        x = int(width * (0.08 + 0.14 * index))
        y = int(height * 0.78) - w
        draw.rectangle(
            [x, y, x + w, y + w], fill=(230, 200 - 25 * index, 150), outline=(60, 40, 30)
        )
        draw.polygon([(x - 4, y), (x + w // 2, y - w // 2), (x + w + 4, y)], fill=(170, 50, 40))
        draw.rectangle([x + w // 3, y + w // 2, x + 2 * w // 3, y + w], fill=(90, 60, 40))
        draw.rectangle([x + w // 8, y + w // 6, x + w // 3, y + w // 3], fill=(150, 200, 240))
    trunk_x = int(width * 0.75)
    draw.rectangle(
        [trunk_x, int(height * 0.55), trunk_x + width // 40, int(height * 0.85)], fill=(100, 70, 40)
    )
    for _ in range(60):  # foliage as jittered dots
        cx = trunk_x + rng.randint(-width // 12, width // 12)
        cy = int(height * 0.5) + rng.randint(-height // 10, height // 12)
        r = rng.randint(4, max(5, width // 40))
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(30, 110 + rng.randint(0, 60), 40))
    return image


def style_picture(width: int = 384, height: int = 384, seed: int = 1) -> Image.Image:
    """Swirling brush strokes in a bold palette (what style loss should transfer)."""
    rng = random.Random(seed)
    palette = [
        (20, 40, 110),
        (40, 90, 180),
        (240, 200, 60),
        (250, 240, 180),
        (30, 120, 140),
        (200, 80, 40),
    ]
    image = Image.new("RGB", (width, height), palette[0])
    draw = ImageDraw.Draw(image)
    for _ in range(900):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        # strokes follow a swirl field around a few centres, like a van Gogh sky
        angle = math.atan2(cy - height / 2, cx - width / 2) + math.pi / 2 + rng.uniform(-0.3, 0.3)
        length = rng.uniform(6, 22)
        dx, dy = math.cos(angle) * length, math.sin(angle) * length
        draw.line(
            [(cx - dx, cy - dy), (cx + dx, cy + dy)],
            fill=rng.choice(palette),
            width=rng.randint(2, 5),
        )
    for _ in range(12):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(8, 30)
        for ring in range(int(r), 0, -4):
            draw.ellipse(
                [cx - ring, cy - ring, cx + ring, cy + ring], outline=rng.choice(palette), width=2
            )
    return image.filter(ImageFilter.SMOOTH)


#: The motions `camera_move` films.
MOTIONS = ("pan", "zoom", "object", "parallax")


def camera_move(
    picture: Image.Image, motion: str, frames: int, width: int, height: int, speed: float = 2.0
) -> Iterator[Image.Image]:
    """`frames` frames of `width`×`height` filming `picture` with a known motion.

    pan: the view slides right by `speed` pixels a frame; zoom: it narrows by `speed`
    pixels of width a frame, towards the centre; object: the view stays, and a disc
    textured with the picture itself crosses it at `speed` pixels a frame; parallax: two
    depths, the picture panning by `speed`/2 pixels a frame behind a row of near posts
    (textured with its lower half, mirrored) that pass at 2 × `speed`, uncovering and covering
    the background at their edges as a camera moving sideways past a fence would.
    """
    if motion not in MOTIONS:
        raise ValueError(f"motion must be one of {', '.join(MOTIONS)}")
    if motion == "parallax":
        yield from _parallax(picture, frames, width, height, speed)
        return
    travel = speed * frames if motion == "pan" else 0.0
    scale = max((width + travel) / picture.width, height / picture.height)
    base = picture.convert("RGB").resize(
        (math.ceil(picture.width * scale), math.ceil(picture.height * scale)),
        Image.Resampling.LANCZOS,
    )
    top = (base.height - height) / 2
    radius = height // 5
    disc = Image.new("L", (2 * radius, 2 * radius))
    ImageDraw.Draw(disc).ellipse([0, 0, 2 * radius - 1, 2 * radius - 1], fill=255)
    texture = base.rotate(90, expand=True).resize((2 * radius, 2 * radius))
    for index in range(frames):
        if motion == "pan":
            left = (base.width - width - travel) / 2 + speed * index
            box = (left, top, left + width, top + height)
        elif motion == "zoom":
            shrink = speed * index
            inner_w, inner_h = width - shrink, (width - shrink) * height / width
            left, inner_top = (base.width - inner_w) / 2, (base.height - inner_h) / 2
            box = (left, inner_top, left + inner_w, inner_top + inner_h)
        else:
            left = (base.width - width) / 2
            box = (left, top, left + width, top + height)
        frame = base.resize((width, height), Image.Resampling.BICUBIC, box=box)
        if motion == "object":
            x = round(width * 0.1 + speed * index)
            frame.paste(texture, (x, height // 2 - radius), disc)
        yield frame


def parallax_posts(width: int, height: int, index: int, speed: float) -> Image.Image:
    """The mask (L, 255 on the posts) of the near posts in frame `index` of a parallax clip."""
    mask = Image.new("L", (width, height))
    post, spacing = max(2, width // 12), max(4, width // 4)
    shift = 2 * speed * index
    draw = ImageDraw.Draw(mask)
    for k in range(-1, math.ceil((width + shift) / spacing) + 2):
        left = round(width * 0.1 + k * spacing - shift)
        draw.rectangle([left, 0, left + post - 1, height - 1], fill=255)
    return mask


def _parallax(
    picture: Image.Image, frames: int, width: int, height: int, speed: float
) -> Iterator[Image.Image]:
    far = camera_move(picture, "pan", frames, width, height, speed / 2)
    # the picture's lower half, mirrored: detail (no flat sky) that is not the background's
    lower = picture.convert("RGB").crop((0, picture.height // 2, picture.width, picture.height))
    texture = lower.transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize((width, height))
    for index, frame in enumerate(far):
        # the posts' texture moves with them: shifted left by their travel, wrapping round
        near = ImageChops.offset(texture, -round(2 * speed * index), 0)
        frame.paste(near, (0, 0), parallax_posts(width, height, index, speed))
        yield frame


def write_samples(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    content, style = folder / "content.png", folder / "style.png"
    for image, path in ((content_scene(), content), (style_picture(), style)):
        with atomic_write(path) as stream:
            image.save(stream, format="PNG")
    return content, style


if __name__ == "__main__":
    for path in write_samples(Path(sys.argv[1] if len(sys.argv) > 1 else "out")):
        print(path)
