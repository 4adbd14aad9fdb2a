"""Distractors: what a tropical city camera sees that is not an intruder. Each is a callable
``(frame, t) -> frame`` on float32 luma, seeded so every run renders the same clip."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from benchmarks.clips.scene import F32, palm, paste

Effect = Callable[[F32, float], F32]


def _blob(h: int, w: int, cx: float, cy: float, rx: float, ry: float) -> F32:
    """A soft elliptical 0..1 field."""
    yy, xx = np.ogrid[0:h, 0:w]
    d = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2
    return np.asarray(np.exp(-d), np.float32)


class Rain:
    """Heavy tropical rain: many bright streaks at new places every frame, and a grey veil."""

    def __init__(self, rng: np.random.Generator, drops: int = 300) -> None:
        self.rng, self.drops = rng, drops

    def __call__(self, frame: F32, t: float) -> F32:
        h, w = frame.shape
        layer = np.zeros_like(frame)
        n = int(self.drops * (0.7 + 0.3 * np.sin(t * 0.7)))
        xs, ys = self.rng.integers(0, w, n), self.rng.integers(0, h, n)
        lens = self.rng.integers(h // 25, h // 10, n)
        for x, y, n_len, val in zip(xs, ys, lens, self.rng.uniform(25, 70, n), strict=True):
            cv2.line(layer, (int(x), int(y)), (int(x + n_len * 0.2), int(y + n_len)), float(val))
        return frame * 0.85 + 22 + layer


class Lightning:
    """Flashes every few seconds, from faint and distant to blinding, lit from the sky down,
    flickering and fading over a few frames."""

    def __init__(self, rng: np.random.Generator, seconds: float) -> None:
        times = np.cumsum(rng.uniform(2.5, 5.0, 12)) + 1.0
        self.flashes = [
            (float(s), float(rng.uniform(1.15, 3.0)), float(rng.uniform(5, 100)), int(k))
            for s, k in zip(times[times < seconds], rng.integers(2, 5, 12), strict=False)
        ]

    def __call__(self, frame: F32, t: float) -> F32:
        h = frame.shape[0]
        sky = (1 - 0.6 * np.arange(h, dtype=np.float32) / h)[:, None]
        for start, gain, offset, frames in self.flashes:
            k = round((t - start) * 10)
            if 0 <= k < frames:
                fade = (1.0, 0.4, 0.8, 0.25, 0.1)[k]
                return frame * (1 + (gain - 1) * fade * sky) + offset * fade * sky
        return frame


class SlowLight:
    """Dusk or a passing cloud: exposure drifts by half and a soft shadow crosses the scene."""

    def __init__(self, rng: np.random.Generator, seconds: float) -> None:
        self.seconds = seconds
        self.down = bool(rng.integers(0, 2))
        self.speed = float(rng.uniform(0.05, 0.1))

    def __call__(self, frame: F32, t: float) -> F32:
        h, w = frame.shape
        p = t / self.seconds
        gain = 1 - 0.45 * p if self.down else 0.55 + 0.45 * p
        cx = (-0.4 + self.speed * t) * w
        shadow = 1 - 0.4 * _blob(h, w, cx, h * 0.6, w * 0.35, h * 0.8)
        return frame * gain * shadow


class SuddenLight:
    """A lamp switching on or off, with the camera's auto-exposure catching up, and a street
    light's pool switching on locally."""

    def __init__(self, rng: np.random.Generator, seconds: float) -> None:
        self.steps = [
            (float(s), float(rng.choice([0.5, 1.8]))) for s in rng.uniform(3, seconds - 2, 2)
        ]
        self.pool_at = float(rng.uniform(3, seconds - 2))
        self.pool_x = float(rng.uniform(0.3, 0.7))

    def __call__(self, frame: F32, t: float) -> F32:
        h, w = frame.shape
        for start, gain in self.steps:
            if t >= start:
                frame = frame * (1 + (gain - 1) * np.exp(-(t - start) / 0.8))
        if t >= self.pool_at:
            frame = frame * (1 + 0.8 * _blob(h, w, self.pool_x * w, h * 0.85, w * 0.2, h * 0.3))
        return frame


class Shake:
    """The pole sways: the whole picture shifts by a few pixels, two to three times a second."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.amp = float(rng.uniform(1.5, 3.5))
        self.freq = float(rng.uniform(1.5, 3.0))
        self.rng = rng

    def __call__(self, frame: F32, t: float) -> F32:
        h, w = frame.shape
        dx = self.amp * np.sin(2 * np.pi * self.freq * t) + self.rng.normal(0, 0.4)
        dy = 0.6 * self.amp * np.cos(2 * np.pi * self.freq * 1.3 * t)
        m = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
        return np.asarray(
            cv2.warpAffine(frame, m, (w, h), borderMode=cv2.BORDER_REFLECT), np.float32
        )


class Foliage:
    """Palms in and beside the zone whose crowns sway in gusts."""

    def __init__(self, rng: np.random.Generator, w: int, h: int) -> None:
        self.trees = []
        for cx, cy in ((0.45, 0.55), (0.8, 0.6), (0.15, 0.5)):
            size = int(h * rng.uniform(0.3, 0.45))
            sprite, mask = palm(rng, size)
            phase, freq = float(rng.uniform(0, 6)), float(rng.uniform(0.4, 1.2))
            self.trees.append(
                (sprite, mask, int(cx * w - size / 2), int(cy * h - size / 2), phase, freq)
            )
        self.amp = float(rng.uniform(3.0, 8.0))

    def __call__(self, frame: F32, t: float) -> F32:
        for sprite, mask, x, y, phase, freq in self.trees:
            gust = 1 + 0.5 * np.sin(0.3 * t + phase)
            dx = self.amp * gust * np.sin(2 * np.pi * freq * t + phase)
            dy = 0.4 * self.amp * np.sin(2 * np.pi * freq * 1.7 * t)
            paste(frame, sprite, mask, round(x + dx), round(y + dy))
        return frame


class Insects:
    """Moths close to the lens under IR: big, bright, out-of-focus blobs flying erratically."""

    def __init__(self, rng: np.random.Generator, w: int, h: int, count: int = 2) -> None:
        self.rng, self.w, self.h = rng, w, h
        self.bugs = [self._spawn() for _ in range(count)]

    def _spawn(self) -> list[float]:
        r = self.rng
        life = float(r.uniform(0.5, 3.0))
        return [
            r.uniform(0, self.w),
            r.uniform(0, self.h),
            r.uniform(6, 16),
            r.uniform(80, 220),
            life,
        ]

    def __call__(self, frame: F32, t: float) -> F32:
        h, w = frame.shape
        for i, bug in enumerate(self.bugs):
            bug[0] += self.rng.normal(0, 9)
            bug[1] += self.rng.normal(0, 7)
            bug[4] -= 0.1
            if bug[4] <= 0 or not (-20 < bug[0] < w + 20 and -20 < bug[1] < h + 20):
                self.bugs[i] = self._spawn()
                continue
            frame = frame + bug[3] * _blob(h, w, bug[0], bug[1], bug[2], bug[2])
        return frame


class Headlights:
    """A car passing just out of view at night: its beam sweeps road, yard and walls."""

    def __init__(self, rng: np.random.Generator, seconds: float) -> None:
        self.sweeps = [(float(s), float(rng.uniform(1.5, 3.0)), bool(rng.integers(0, 2)))
                       for s in np.sort(rng.uniform(2.5, seconds - 3, 2))]  # fmt: skip

    def __call__(self, frame: F32, t: float) -> F32:
        h, w = frame.shape
        for start, length, rightward in self.sweeps:
            p = (t - start) / length
            if 0 <= p <= 1:
                cx = (p if rightward else 1 - p) * 1.4 * w - 0.2 * w
                beam = _blob(h, w, cx, h * 0.75, w * 0.22, h * 0.35)
                frame = frame * (1 + 2.0 * beam) + 25 * beam
        return frame


class Compression:
    """A starved substream: blocky JPEG-like artefacts that change every frame."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def __call__(self, frame: F32, t: float) -> F32:
        q = int(self.rng.integers(8, 16))
        img = np.clip(frame, 0, 255).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])
        decoded = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE) if ok else None
        return frame if decoded is None else np.asarray(decoded, np.float32)


class CloudShadow:
    """Shadows of fair-weather clouds drifting over the yard: large, soft-edged, irregular,
    darkening the ground by a third to a half while its texture stays; the camera's exposure
    brightens a little while much of the view is shaded."""

    def __init__(self, rng: np.random.Generator, w: int, h: int, seconds: float) -> None:
        self.w, self.h = w, h
        rows = np.arange(h, dtype=np.float32) / h
        self.ground = np.clip((rows - 0.2) / 0.25, 0, 1)[:, None]  # no shadow on the sky
        self.shadows = []
        start = float(rng.uniform(1.0, 4.0))
        while start < seconds - 4:
            field = self._field(rng, int(w * rng.uniform(0.6, 1.1)), int(h * 1.4))
            speed = float(rng.uniform(15, 40)) * (1 if rng.integers(0, 2) else -1)
            x0 = -field.shape[1] if speed > 0 else w
            depth = float(rng.uniform(0.3, 0.55))
            self.shadows.append((field, start, x0, speed, float(rng.uniform(-4, 4)), depth))
            start += float(rng.uniform(6, 14))

    @staticmethod
    def _field(rng: np.random.Generator, fw: int, fh: int) -> F32:
        """A cloud's outline: a few overlapping puffs, thresholded, edges blurred soft."""
        field = np.zeros((fh, fw), np.float32)
        for _ in range(int(rng.integers(4, 8))):
            cx, cy = rng.uniform(0.25, 0.75) * fw, rng.uniform(0.25, 0.75) * fh
            field += _blob(fh, fw, cx, cy, rng.uniform(0.12, 0.3) * fw, rng.uniform(0.12, 0.3) * fh)
        hard = (field > 0.5).astype(np.float32)
        return np.asarray(cv2.GaussianBlur(hard, (0, 0), float(rng.uniform(3, 8))), np.float32)

    def __call__(self, frame: F32, t: float) -> F32:
        h, w = frame.shape
        shade = np.zeros((h, w), np.float32)
        for field, start, x0, speed, rise, depth in self.shadows:
            x = x0 + speed * (t - start)
            if t < start or x > w or x + field.shape[1] < 0:
                continue
            y = h * 0.1 - field.shape[0] * 0.2 + rise * (t - start)
            m = np.array([[1, 0, x], [0, 1, y]], np.float32)
            shade += depth * cv2.warpAffine(field, m, (w, h), borderValue=0.0)
        if not shade.any():
            return frame
        shade *= self.ground
        exposure = 1 + 0.5 * float(shade.mean())
        return frame * (1 - np.minimum(shade, 0.7)) * exposure


class FlickerLamp:
    """A failing street lamp at night: its pool of light on part of the yard and its head in
    view go off, dim, come back, and at times flicker a few times a second, irregularly."""

    def __init__(self, rng: np.random.Generator, w: int, h: int, seconds: float) -> None:
        cx, cy = float(rng.uniform(0.45, 0.85)) * w, float(rng.uniform(0.7, 0.85)) * h
        rx = float(rng.uniform(0.13, 0.2)) * w
        self.pool = _blob(h, w, cx, cy, rx, rx * 0.55)
        self.head = _blob(h, w, cx + rx * 0.3, float(rng.uniform(0.25, 0.38)) * h, 3, 2)
        self.gain, self.add = float(rng.uniform(0.8, 1.6)), float(rng.uniform(15, 30))
        self.changes = self._schedule(rng, seconds)

    @staticmethod
    def _schedule(rng: np.random.Generator, seconds: float) -> list[tuple[float, float]]:
        """(time, level) steps: on for a while, then a burst of flicker (the lamp starts to
        fail), then off, dim, flickering or on again."""
        t, out, mode = float(rng.uniform(2, 5)), [(0.0, 1.0)], 2
        while t < seconds:
            length = float(rng.uniform(0.5, 3.0))
            if mode == 0:
                out.append((t, float(rng.uniform(0.0, 0.1))))
            elif mode == 1:
                out.append((t, float(rng.uniform(0.3, 0.6))))
            elif mode == 2:
                end, on = t + length, False
                while t < end:
                    level = rng.uniform(0.7, 1.0) if on else rng.uniform(0.0, 0.2)
                    out.append((t, float(level)))
                    t, on = t + float(rng.uniform(0.08, 0.3)), not on
                length = 0.0  # the burst already moved t on
            else:
                out.append((t, 1.0))
            t += length
            mode = int(rng.integers(0, 4))
        return out

    def level(self, t: float) -> float:
        current = 1.0
        for start, level in self.changes:
            if start > t:
                break
            current = level
        return current

    def __call__(self, frame: F32, t: float) -> F32:
        lit = self.level(t)
        return frame * (1 + self.gain * lit * self.pool) + lit * (
            self.add * self.pool + 150 * self.head
        )
