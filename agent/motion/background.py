"""The background model: a sigma-delta estimate of each pixel's background and noise.

Why sigma-delta rather than a running average: it works in uint8 with saturating OpenCV ops
(no float image per frame), its mean moves one level per update whatever the contrast (so a
passing figure barely marks it), and the per-pixel noise estimate raises the threshold where
palms sway or water glitters while the rest of the scene stays sensitive.

Why an envelope: comparing each pixel with the brightest and darkest background pixel around
it makes a one-pixel wobble of the pole (wind, trucks) invisible at analysis resolution.
"""

from __future__ import annotations

import cv2
import numpy as np

from agent.motion.types import KERNEL, Luma

NOISE_GAIN = 2  # noise estimate follows this multiple of the difference
NOISE_RATE = 0.1  # how fast the noise estimate follows (per noise update)
UPDATE_EVERY = 2  # frames per background step: the mean moves 5 levels/s at 10 fps
NOISE_EVERY = 4  # frames per noise update
NOISE_START = 6  # initial noise estimate in luma levels
ACTIVITY_RATE = 0.02  # share of the newest frame in the activity average (~5 s at 10 fps)
ACTIVITY_WARMUP = 12  # frames of virtual quiet history the first activity average starts from
BUSY = 64  # activity above this (moving a quarter of the time) marks a pixel busy


class Background:
    """Background mean, noise and the 3x3 envelope of the mean, all uint8 at analysis size.
    Slow-moving state is refreshed every few frames: that halves the per-frame cost and the
    model drifts by a level or two at most in between.

    The foreground test is folded into two per-pixel bounds, refreshed with the mean, so a frame
    costs one range check (see ``foreground``). ``include`` (255 = analysed) widens the bounds
    of masked pixels to the full range, so masks cost nothing per frame."""

    def __init__(self, frame: Luma, threshold: int, include: Luma | None = None) -> None:
        self.threshold = threshold
        self.mean: Luma = frame.copy()
        self.noise: Luma = np.full_like(frame, NOISE_START)
        self._one = np.ones_like(frame)
        self._floor = np.full_like(frame, threshold)
        self._busy = np.full_like(frame, BUSY)
        self._excluded = None if include is None else cv2.bitwise_not(include)
        self.activity: Luma = np.zeros_like(frame)
        self._observed = 0
        self._settled: Luma = np.full_like(frame, 255)
        self.level = 0.0
        self._frames = 0
        self._limits()
        self._refresh()

    def reset(self, frame: Luma) -> None:
        """Relearn from ``frame``: after a light change the old background is worthless. Which
        pixels are busy (fronds, water) is about the scene, not the light, so that is kept."""
        np.copyto(self.mean, frame)
        self.noise.fill(NOISE_START)
        self._limits()
        self._refresh()

    def foreground(self, frame: Luma) -> Luma:
        """255 where the difference from the mean beats both the threshold and the learned noise
        (``limit``), and the pixel also lies outside its neighbourhood's background range by half
        as much (so a one-pixel wobble of the pole does not count).

        As the envelope holds the mean, a pixel moves exactly when it lies above both
        ``high + half`` and ``mean + limit``, or below both ``low - half`` and ``mean - limit``:
        outside ``[down, up]``. Saturation keeps this exact at 0 and 255."""
        return cv2.bitwise_not(cv2.inRange(frame, self._down, self._up))

    def settled(self, raw: Luma) -> Luma:
        """255 where a pixel has not been moving for much of the last seconds. Swaying palms,
        flags and glittering puddles move most of the time; a passer-by covers a spot for a
        second, and the background absorbs whatever stays put anyway. The busy area is grown
        by a pixel because a gust swings the fronds a little further than before (the 3x3
        maximum of the activity is above ``BUSY`` exactly where the grown busy mask is set).

        A 5 s average needs 5 s of history, and palms swaying from the first frame would alarm
        meanwhile. So the average starts as a plain mean over the frames seen so far (plus
        ``ACTIVITY_WARMUP`` quiet ones, so a figure crossing early is not marked busy) and turns
        into the running average once that mean's weight drops to ``ACTIVITY_RATE``."""
        self._observed += 1
        rate = max(ACTIVITY_RATE, 1 / (self._observed + ACTIVITY_WARMUP))
        cv2.addWeighted(self.activity, 1 - rate, raw, rate, 0, dst=self.activity)
        if self._frames % UPDATE_EVERY == 0:
            self._settled = cv2.compare(cv2.dilate(self.activity, KERNEL), self._busy, cv2.CMP_LE)
        return self._settled

    def update(self, frame: Luma) -> None:
        """A sigma-delta step towards ``frame`` every few frames: one level per step whatever
        the contrast, so a passing figure barely marks the background. The step is a clamp of
        the frame to ``mean +- 1``."""
        self._frames += 1
        if self._frames % UPDATE_EVERY:
            return
        noisy = self._frames % NOISE_EVERY == 0
        diff = cv2.absdiff(frame, self.mean) if noisy else None
        step = cv2.min(frame, cv2.add(self.mean, self._one))
        cv2.max(step, cv2.subtract(self.mean, self._one), dst=self.mean)
        if diff is not None:
            target = cv2.convertScaleAbs(diff, alpha=NOISE_GAIN)
            self.noise = cv2.addWeighted(self.noise, 1 - NOISE_RATE, target, NOISE_RATE, 0)
            self._limits()
        self._refresh()

    def _refresh(self) -> None:
        high = cv2.dilate(self.mean, KERNEL)
        low = cv2.erode(self.mean, KERNEL)
        self._up = cv2.max(cv2.add(high, self._half), cv2.add(self.mean, self._limit))
        self._down = cv2.min(cv2.subtract(low, self._half), cv2.subtract(self.mean, self._limit))
        self.level = float(cv2.mean(self.mean)[0])

    def _limits(self) -> None:
        self._limit = cv2.max(self.noise, self._floor)
        self._half = cv2.convertScaleAbs(self._limit, alpha=0.5)
        if self._excluded is not None:
            cv2.max(self._half, self._excluded, dst=self._half)  # bounds 0..255: never moves
