"""The critical-alert sound, generated here so the console ships no third-party audio.

``static/sounds/alarm.wav`` is the output of :func:`alarm_wav`; a test regenerates it and compares,
so the file in the package is always reproducible from this code.
"""

from __future__ import annotations

import io
import math
import struct
import wave

RATE = 16_000  # Hz: plenty for two beeps, keeps the file around 20 KB
TONES = ((880.0, 0.18), (0.0, 0.07), (660.0, 0.18), (0.0, 0.07), (880.0, 0.18))


def _samples(freq: float, seconds: float, volume: float = 0.5) -> list[int]:
    """One tone with 10 ms fades at both ends: without them every beep starts with a click."""
    n = int(RATE * seconds)
    fade = int(RATE * 0.01)
    out = []
    for i in range(n):
        envelope = min(1.0, i / fade, (n - 1 - i) / fade) if fade else 1.0
        value = math.sin(2 * math.pi * freq * i / RATE) if freq else 0.0
        out.append(int(32767 * volume * envelope * value))
    return out


def alarm_wav() -> bytes:
    """A short two-tone alarm (about 0.7 s), 16-bit mono PCM."""
    frames: list[int] = []
    for freq, seconds in TONES:
        frames.extend(_samples(freq, seconds))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(struct.pack(f"<{len(frames)}h", *frames))
    return buf.getvalue()
