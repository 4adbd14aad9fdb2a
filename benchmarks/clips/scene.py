"""Scene pieces rendered directly as luma: textured day and night-IR streets, people, vehicles
and palms. Everything is float32 0..255 until the end of a frame so effects can stack."""

from __future__ import annotations

import functools

import cv2
import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
Mask = npt.NDArray[np.bool_]


def _texture(rng: np.random.Generator, h: int, w: int, coarse: float, fine: float) -> F32:
    """Coarse blotches plus fine grain: walls and asphalt are never flat."""
    small = rng.normal(0, coarse, (h // 6 + 1, w // 6 + 1)).astype(np.float32)
    blotch = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    grain = cv2.GaussianBlur(rng.normal(0, fine, (h, w)).astype(np.float32), (0, 0), 0.8)
    return np.asarray(blotch + grain, np.float32)


def street(rng: np.random.Generator, w: int, h: int) -> F32:
    """Day luma: sky, buildings with windows, a sidewalk and a road with lane marks."""
    img = np.zeros((h, w), np.float32)
    horizon = int(h * 0.45)
    img[:horizon] = np.linspace(185, 140, horizon, dtype=np.float32)[:, None]
    x = 0
    while x < w:
        bw = int(rng.integers(w // 10, w // 4))
        top = int(rng.integers(h // 10, horizon - h // 8))
        img[top:horizon, x : x + bw - 2] = float(rng.integers(70, 180))
        win = max(3, h // 30)
        for wy in range(top + win, horizon - win, win * 2):
            for wx in range(x + win, x + bw - 2 * win, win * 2):
                img[wy : wy + win, wx : wx + win] = float(rng.integers(30, 90))
        x += bw
    img[horizon : int(h * 0.55)] = 120  # far sidewalk
    img[int(h * 0.55) :] = 85  # road and near yard
    for lx in range(0, w, w // 8):
        img[int(h * 0.72) : int(h * 0.73) + 1, lx : lx + w // 16] = 210
    img += _texture(rng, h, w, coarse=10, fine=9)
    return np.clip(img, 0, 255)


def night(day: F32, rng: np.random.Generator) -> F32:
    """Night under IR: dark, lit from the camera (bright centre-bottom), reflectance remapped."""
    return ir_light(ir_remap(day, rng))


def ir_remap(day: F32, rng: np.random.Generator) -> F32:
    """How the scene reflects IR, before the camera's lamp lights it (a panning camera carries
    its lamp along: the light stays put while the scene moves)."""
    h, w = day.shape
    return np.asarray(
        0.55 * day + 0.25 * (255 - day) * 0.3 + _texture(rng, h, w, coarse=4, fine=3), np.float32
    )


def ir_light(remap: F32) -> F32:
    """The IR lamp beside the lens lights the view: bright centre-bottom, dark corners."""
    return np.asarray(np.clip(remap * _ir_lamp(*remap.shape) * 0.8, 0, 255), np.float32)


@functools.cache
def _ir_lamp(h: int, w: int) -> F32:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    lamp = np.exp(-(((xx - w / 2) / (0.7 * w)) ** 2 + ((yy - h) / (0.9 * h)) ** 2))
    return np.asarray(0.35 + 0.75 * lamp, np.float32)


def person(
    rng: np.random.Generator, tall: int, shade: float, width: int | None = None
) -> tuple[F32, Mask]:
    """A walking figure sprite (luma, mask) ``tall`` pixels high (``width`` wide, by default a
    third of that), clothes with some texture."""
    w = width or max(6, tall // 3)
    img = np.zeros((tall, w), np.float32)
    mask = np.zeros((tall, w), np.uint8)
    cx = w // 2
    cv2.ellipse(mask, (cx, int(tall * 0.42)), (max(2, w // 3), tall // 4), 0, 0, 360, 1, -1)
    cv2.circle(mask, (cx, int(tall * 0.1)), max(2, tall // 11), 1, -1)
    cv2.rectangle(mask, (cx - w // 4, int(tall * 0.6)), (cx + w // 4, tall - 1), 1, -1)
    img[:] = shade + rng.normal(0, 12, (tall, w)).astype(np.float32)
    img[: int(tall * 0.18)] = shade * 0.8 + 40  # face / hair
    img[int(tall * 0.6) :] = shade * 0.6  # trousers
    return img, mask.astype(bool)


def vehicle(rng: np.random.Generator, length: int, shade: float) -> tuple[F32, Mask]:
    """A car sprite: body, windows, wheels."""
    h = max(8, length // 3)
    img = np.full((h, length), shade, np.float32) + rng.normal(0, 6, (h, length)).astype(np.float32)
    img[: h // 2, length // 5 : length * 4 // 5] = shade * 0.4 + 20  # cabin glass
    img[h // 2 : h // 2 + 2] = shade * 1.3
    mask = np.ones((h, length), bool)
    mask[: h // 2, : length // 6] = False
    mask[: h // 2, length * 5 // 6 :] = False
    for wx in (length // 5, length * 4 // 5):
        cv2.circle(img, (wx, h - 3), max(2, h // 5), 15.0, -1)
    return img, mask


def motorbike(rng: np.random.Generator, length: int, shade: float) -> tuple[F32, Mask]:
    """A rider on a small motorbike, side view: two wheels, the bike's body, a rider with a
    helmet. ``length`` is the bike's length in pixels; the sprite is about as tall."""
    h = max(10, int(length * 0.95))
    img = np.full((h, length), shade, np.float32) + rng.normal(0, 8, (h, length)).astype(np.float32)
    mask = np.zeros((h, length), np.uint8)
    r = max(2, length // 7)
    for wx in (r + 1, length - r - 2):
        cv2.circle(mask, (wx, h - r - 1), r, 1, -1)
        cv2.circle(img, (wx, h - r - 1), r, 20.0, -1)
    body = np.array(
        [[r, h - 2 * r], [length - r, h - 2 * r - 1], [length - 2, h - r], [r + 2, h - r]],
        np.int32,
    )
    cv2.fillPoly(mask, [body], 1)
    seat_y, seat_x = h - 2 * r - 2, length // 2 - 1
    head_r = max(2, length // 10)
    cv2.line(mask, (seat_x, seat_y), (seat_x + length // 8, head_r * 2 + 1), 1, max(2, r))
    cv2.line(mask, (seat_x + length // 8, h // 3), (length - r - 2, h - 2 * r - 2), 1, 2)
    cv2.circle(mask, (seat_x + length // 8, head_r + 1), head_r, 1, -1)
    img[: head_r * 2 + 2] = shade * 0.5 + 60  # helmet
    return np.clip(img, 0, 255), mask.astype(bool)


def palm(rng: np.random.Generator, size: int) -> tuple[F32, Mask]:
    """A crown of leaves: high-contrast texture that sways as a whole."""
    img = np.zeros((size, size), np.float32)
    mask = np.zeros((size, size), np.uint8)
    c = size // 2
    for _ in range(14):
        angle = rng.uniform(0, 2 * np.pi)
        tip = (int(c + np.cos(angle) * c * 0.95), int(c + np.sin(angle) * c * 0.7))
        cv2.line(mask, (c, c), tip, 1, max(2, size // 10))
    img[:] = 60 + rng.normal(0, 30, (size, size)).astype(np.float32)
    return np.clip(img, 0, 255), mask.astype(bool)


def paste(frame: F32, sprite: F32, mask: Mask, x: int, y: int) -> Mask:
    """Draw ``sprite`` with its top-left at (x, y), clipped; returns the covered pixels."""
    h, w = frame.shape
    covered = np.zeros((h, w), bool)
    sh, sw = sprite.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + sw), min(h, y + sh)
    if x0 >= x1 or y0 >= y1:
        return covered
    sub = mask[y0 - y : y1 - y, x0 - x : x1 - x]
    frame[y0:y1, x0:x1][sub] = sprite[y0 - y : y1 - y, x0 - x : x1 - x][sub]
    covered[y0:y1, x0:x1] = sub
    return covered
