"""The background model: a sigma-delta estimate of each pixel's background and noise, and a
map of the places that sway.

Why sigma-delta rather than a running average: it works in uint8 with saturating OpenCV ops
(no float image per frame), its mean moves a fixed step per update whatever the contrast (so a
passing figure barely marks it), and the per-pixel noise estimate raises the threshold where
water glitters while the rest of the scene stays sensitive.

Why an envelope: comparing each pixel with the brightest and darkest background pixel around
it makes a one-pixel wobble of the pole (wind, trucks) invisible at analysis resolution.

Why a flicker map: a palm frond swings out into the sky and back every second or two, so a
single-mode background keeps calling the fronds' edge foreground. What gives fronds away is
that the same pixels keep switching between moving and still, several times in a few seconds;
a walker switches a pixel once on and once off. Rain switches pixels too, but everywhere at
random: the map's threshold rises with the frame's average flicker, so rain alone does not
blind the picture while fronds stand out above it.
"""

from __future__ import annotations

import cv2
import numpy as np

from agent.motion.types import KERNEL, Luma

NOISE_GAIN = 2  # noise estimate follows this multiple of the difference
NOISE_RATE = 0.2  # how fast the noise estimate follows (per noise update)
UPDATE_EVERY = 4  # frames per background step
STEP = 2  # levels per step: the mean moves 5 levels/s at 10 fps
NOISE_EVERY = 8  # frames per noise update
NOISE_START = 6  # initial noise estimate in luma levels
FLICKER_EVERY = 2  # frames per flicker sample: fronds swing over several frames
FLICKER_RATE = 1 / 32  # share of the newest sample in the flicker average (~6 s at 10 fps)
FLICKER_WARMUP = 8  # samples of virtual quiet history the first flicker average starts from
SWITCHES = 3.5  # more switches than this in the window: fronds, not a walker (2)
FLICKER_BUSY = 255 * SWITCHES * FLICKER_RATE
FLICKER_FLOOR = 2.0  # ... and over twice the frame's average (rain, sensor noise)
SWAY_REACH = 5  # a gust carries fronds a little further than before: the busy area grows


class Background:
    """Background mean, noise and the 3x3 envelope of the mean, all uint8 at analysis size,
    and the flicker average (float32). Slow-moving state is refreshed every few frames: the
    model drifts by a few levels at most in between, which the thresholds dwarf.

    The foreground test is folded into two per-pixel bounds, refreshed with the mean, so a frame
    costs one range check (see ``still``). ``include`` (255 = analysed) widens the bounds of
    masked pixels to the full range, so masks cost nothing per frame."""

    def __init__(self, frame: Luma, threshold: int, include: Luma | None = None) -> None:
        self.threshold = threshold
        self.mean: Luma = frame.copy()
        self.noise: Luma = np.full_like(frame, NOISE_START)
        self._step = np.full_like(frame, STEP)
        self._floor = np.full_like(frame, threshold)
        self._excluded = None if include is None else cv2.bitwise_not(include)
        self.flicker = np.zeros(frame.shape, np.float32)
        self._still_prev: Luma | None = None
        self._reach = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (SWAY_REACH, SWAY_REACH))
        self._observed = 0
        self._settled: Luma = np.full_like(frame, 255)
        self.level = 0.0
        self._frames = 0
        self._limits()
        self._refresh()

    def reset(self, frame: Luma) -> None:
        """Relearn from ``frame``: after a light change the old background is worthless. Which
        pixels sway (fronds, water) is about the scene, not the light, so that is kept."""
        np.copyto(self.mean, frame)
        self.noise.fill(NOISE_START)
        self._still_prev = None
        self._limits()
        self._refresh()

    def forget_sway(self) -> None:
        """Forget which pixels sway: the camera turned to another view."""
        self.flicker.fill(0)
        self._observed = 0
        self._settled.fill(255)

    def still(self, frame: Luma) -> Luma:
        """255 where ``frame`` matches the background: within the threshold and the learned
        noise (``limit``) of the mean, or inside its neighbourhood's background range widened
        by half as much (so a one-pixel wobble of the pole does not count). Moving pixels are
        the rest.

        As the envelope holds the mean, a pixel moves exactly when it lies above both
        ``high + half`` and ``mean + limit``, or below both ``low - half`` and ``mean - limit``:
        outside ``[down, up]``. Saturation keeps this exact at 0 and 255."""
        return cv2.inRange(frame, self._down, self._up)

    def settled(self, still: Luma) -> Luma:
        """255 where a pixel has not been switching between moving and still much over the last
        seconds (see the module docstring), grown by ``SWAY_REACH`` around the swaying parts.

        A ~6 s average needs ~6 s of history, and palms swaying from the first frame would
        alarm meanwhile. So the average starts as a plain mean over the frames seen so far
        (plus ``FLICKER_WARMUP`` quiet ones, so a figure crossing early does not count) and
        turns into the running average once that mean's weight drops to ``FLICKER_RATE``."""
        self._observed += 1
        if self._observed % FLICKER_EVERY == 0:
            prev, self._still_prev = self._still_prev, still
            if prev is not None:
                samples = self._observed // FLICKER_EVERY
                rate = max(FLICKER_RATE, 1 / (samples + FLICKER_WARMUP))
                cv2.accumulateWeighted(cv2.bitwise_xor(still, prev), self.flicker, rate)
        if self._frames % UPDATE_EVERY == 0:
            average = cv2.sumElems(self.flicker)[0] * (1.0 / self.flicker.size)  # as cv2.mean
            floor = FLICKER_BUSY + FLICKER_FLOOR * average
            # OpenCV takes a scalar for src2; its stubs only list arrays
            calm = cv2.compare(self.flicker, floor, cv2.CMP_LE)  # type: ignore[call-overload]
            # == not(grown swaying area); with nothing swaying (most scenes) the erosion is
            # skipped: it would give back the frame of 255 it was given
            full = cv2.countNonZero(calm) == calm.size
            self._settled = calm if full else cv2.erode(calm, self._reach)
        return self._settled

    def update(self, frame: Luma) -> None:
        """A sigma-delta step towards ``frame`` every few frames: ``STEP`` levels whatever the
        contrast, so a passing figure barely marks the background. The step is a clamp of the
        frame to ``mean +- STEP``."""
        self._frames += 1
        if self._frames % UPDATE_EVERY:
            return
        noisy = self._frames % NOISE_EVERY == 0
        diff = cv2.absdiff(frame, self.mean) if noisy else None
        step = cv2.min(frame, cv2.add(self.mean, self._step))
        cv2.max(step, cv2.subtract(self.mean, self._step), dst=self.mean)
        if diff is not None:
            target = cv2.convertScaleAbs(diff, alpha=NOISE_GAIN)
            self.noise = cv2.addWeighted(self.noise, 1 - NOISE_RATE, target, NOISE_RATE, 0)
            self._limits()
            # the bounds follow at the noise updates: between them the mean moves by one step
            # (2 levels), which the thresholds dwarf, and the refresh is the update's main cost
            self._refresh()

    def _refresh(self) -> None:
        high = cv2.dilate(self.mean, KERNEL)
        low = cv2.erode(self.mean, KERNEL)
        self._up = cv2.max(cv2.add(high, self._half), cv2.add(self.mean, self._limit))
        self._down = cv2.min(cv2.subtract(low, self._half), cv2.subtract(self.mean, self._limit))
        self.level = cv2.sumElems(self.mean)[0] * (1.0 / self.mean.size)  # as cv2.mean does

    def _limits(self) -> None:
        self._limit = cv2.max(self.noise, self._floor)
        self._half = cv2.convertScaleAbs(self._limit, alpha=0.5)
        if self._excluded is not None:
            cv2.max(self._half, self._excluded, dst=self._half)  # bounds 0..255: never moves
