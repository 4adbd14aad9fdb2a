"""The picture a simulated camera sees: a textured street scene with scripted conditions.

Backgrounds are built once per resolution so a frame costs a copy, a little noise and a few
drawing calls; that keeps dozens of simulated cameras affordable on a small machine.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from sim.camera.models import Condition

MOVE_FRACTION = 0.18  # how far a knocked camera's view shifts, as a share of the width
PAN_WIDTHS = 1.0  # a PTZ pan from 0 to ±1 moves the view by this many frame widths
WALK_SECONDS = 6.0  # time the figure takes to cross the frame
_NOISE_FRAMES = 4

Frame = np.ndarray


def _background(width: int, height: int, seed: int) -> Frame:
    """A street: sky gradient, buildings with windows, a road; wider than the view for MOVED."""
    rng = np.random.default_rng(seed)
    full_w = int(width * (1 + MOVE_FRACTION)) + 1
    img = np.zeros((height, full_w, 3), np.uint8)
    horizon = int(height * 0.55)
    sky = np.linspace(200, 120, horizon, dtype=np.float32)[:, None]
    img[:horizon, :, 0] = np.clip(sky + 30, 0, 255).astype(np.uint8)
    img[:horizon, :, 1] = sky.astype(np.uint8)
    img[:horizon, :, 2] = (sky * 0.7).astype(np.uint8)
    img[horizon:, :] = (70, 75, 80)
    x = 0
    while x < full_w:
        bw = int(rng.integers(width // 12, width // 5))
        top = int(rng.integers(height // 8, horizon - height // 10))
        colour = tuple(int(c) for c in rng.integers(60, 190, 3))
        cv2.rectangle(img, (x, top), (x + bw - 4, horizon), colour, -1)
        win = max(3, height // 40)
        for wy in range(top + win, horizon - win, win * 2):
            for wx in range(x + win, x + bw - 2 * win, win * 2):
                cv2.rectangle(img, (wx, wy), (wx + win - 1, wy + win - 1), (40, 60, 80), -1)
        x += bw
    for lx in range(0, full_w, width // 8):  # lane markings
        cv2.rectangle(
            img, (lx, int(height * 0.8)), (lx + width // 16, int(height * 0.81)), (220,) * 3, -1
        )
    coarse = rng.normal(0, 12, (height // 4 + 1, full_w // 4 + 1, 1)).astype(np.float32)
    texture = cv2.resize(coarse, (full_w, height), interpolation=cv2.INTER_LINEAR)
    out = img.astype(np.float32) + texture[:, :, None]
    return np.clip(out, 0, 255).astype(np.uint8)


def _panorama(width: int, height: int, seed: int, middle: Frame) -> Frame:
    """The street seen by a PTZ head: ``middle`` (the home view, unchanged) with more street
    on each side, one pan span wide, so a pan brings new content in at the edge."""
    span = int(width * PAN_WIDTHS)
    left = _background(span, height, seed + 101)[:, :span]
    right = _background(span, height, seed + 102)[:, :span]
    return np.ascontiguousarray(np.hstack((left, middle, right)))


def _draw_person(frame: Frame, progress: float) -> None:
    """A walking figure crossing left to right; ``progress`` runs 0..1."""
    h, w = frame.shape[:2]
    cx = int(-0.1 * w + progress * 1.2 * w)
    foot = int(h * 0.9)
    tall = int(h * 0.4)
    # A light shirt over dark trousers: visible in luma, where analysis runs (a red shirt on grey
    # asphalt has about the road's luma and would only test colour, absent at night on IR).
    body = (205, 215, 225)
    cv2.ellipse(frame, (cx, foot - int(tall * 0.55)), (tall // 9, tall // 4), 0, 0, 360, body, -1)
    cv2.circle(frame, (cx, foot - int(tall * 0.88)), tall // 11, (140, 170, 210), -1)
    swing = int(np.sin(progress * 40) * tall * 0.12)
    legs = (
        ((cx, foot - tall // 3), (cx + swing, foot)),
        ((cx, foot - tall // 3), (cx - swing, foot)),
    )
    for a, b in legs:
        cv2.line(frame, a, b, (20, 20, 60), max(2, tall // 25))


class Scene:
    """Renders frames for any resolution; remembers the last one per size for FROZEN."""

    def __init__(self, label: str, seed: int = 7, osd: bool = True) -> None:
        self.label = label
        self.seed = seed
        self.osd = osd
        self._lock = threading.Lock()
        self._backgrounds: dict[tuple[int, int], Frame] = {}
        self._noise: dict[tuple[int, int], list[Frame]] = {}
        self._last: dict[tuple[int, int], Frame] = {}
        self._panoramas: dict[tuple[int, int], Frame] = {}
        self._tick = 0

    def _assets(self, width: int, height: int) -> tuple[Frame, list[Frame]]:
        key = (width, height)
        with self._lock:
            if key not in self._backgrounds:
                self._backgrounds[key] = _background(width, height, self.seed)
                rng = np.random.default_rng(self.seed + 1)
                self._noise[key] = [
                    rng.integers(0, 6, (height, width, 3), dtype=np.uint8)
                    for _ in range(_NOISE_FRAMES)
                ]
            return self._backgrounds[key], self._noise[key]

    def _panorama(self, width: int, height: int) -> Frame:
        key = (width, height)
        background, _ = self._assets(width, height)
        with self._lock:
            if key not in self._panoramas:
                self._panoramas[key] = _panorama(width, height, self.seed, background)
            return self._panoramas[key]

    def render(
        self,
        width: int,
        height: int,
        condition: Condition,
        elapsed: float,
        clock_text: str,
        *,
        pan: float = 0.0,
    ) -> Frame:
        """A BGR frame for ``condition``, which has been active for ``elapsed`` seconds, seen
        by a head panned to ``pan`` (-1..1, 0 = home)."""
        key = (width, height)
        if condition is Condition.FROZEN and key in self._last:
            return self._last[key]
        background, noise = self._assets(width, height)
        x0 = int(width * MOVE_FRACTION) if condition is Condition.MOVED else 0
        if pan:  # the home view stays the plain background, as before PTZ existed
            background = self._panorama(width, height)
            span = int(width * PAN_WIDTHS)
            x0 = max(0, min(background.shape[1] - width, span + round(pan * span) + x0))
        frame = np.ascontiguousarray(background[:, x0 : x0 + width])
        self._tick += 1
        frame = cv2.add(frame, noise[self._tick % _NOISE_FRAMES])
        if condition is Condition.PERSON:
            _draw_person(frame, (elapsed % WALK_SECONDS) / WALK_SECONDS)
        if self.osd:
            self._draw_osd(frame, clock_text)
        frame = self._apply(frame, condition, noise[(self._tick + 1) % _NOISE_FRAMES])
        self._last[key] = frame
        return frame

    def _draw_osd(self, frame: Frame, clock_text: str) -> None:
        h = frame.shape[0]
        scale = h / 720
        org = (int(16 * scale), int(36 * scale))
        text = f"{clock_text}  {self.label}"
        cv2.putText(frame, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 2)

    @staticmethod
    def _apply(frame: Frame, condition: Condition, noise: Frame) -> Frame:
        if condition is Condition.DARK:
            return cv2.add(cv2.convertScaleAbs(frame, alpha=0.06), noise)
        if condition is Condition.OVEREXPOSED:
            return cv2.convertScaleAbs(frame, alpha=2.2, beta=140)
        if condition is Condition.COVERED:
            covered = np.full_like(frame, (14, 16, 22))
            return cv2.add(covered, noise)
        if condition is Condition.DEFOCUS:
            h, w = frame.shape[:2]
            small = cv2.resize(
                frame, (max(1, w // 16), max(1, h // 16)), interpolation=cv2.INTER_AREA
            )
            return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        return frame
