"""The pictures in docs/motion.md: depth-aware zones (how large a person is expected at each
foot row, and the smallest object the detector then accepts) and a fast mover's track.

Run: python -m benchmarks.motion_figures   (writes docs/img/motion-*.png)
The numbers drawn are the detector's own (ZoneMap at the default analysis size), so the
pictures change when the rules do.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from agent.motion import MotionConfig, Zone
from agent.motion.scale import analysis_size
from agent.motion.tracks import MAX_SPEED
from agent.motion.zones import PERSON_WIDTH, ZoneMap
from benchmarks.clips.scene import street

W, H = 640, 360
OUT = Path(__file__).resolve().parents[1] / "docs" / "img"
Image = npt.NDArray[np.uint8]
FAR = Zone(
    name="far",
    polygon=[(0.0, 0.36), (1.0, 0.36), (1.0, 0.57), (0.0, 0.57)],
    person_height=0.094,
)
NEAR = Zone(
    name="yard",
    polygon=[(0.3, 0.62), (1.0, 0.62), (1.0, 1.0), (0.3, 1.0)],
    person_height=0.42,
    person_height_far=0.24,
)
COLOURS = {"far": (60, 200, 255), "yard": (90, 230, 90)}


def background() -> Image:
    grey = np.clip(street(np.random.default_rng(5), W, H), 0, 255).astype(np.uint8)
    return np.asarray(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), np.uint8)


def _polygon(zone: Zone) -> npt.NDArray[np.int32]:
    return np.array([[round(x * (W - 1)), round(y * (H - 1))] for x, y in zone.polygon], np.int32)


def _label(img: Image, text: str, org: tuple[int, int], colour: tuple[int, int, int]) -> None:
    x, y = org
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.42, 1)
    cv2.rectangle(img, (x - 2, y - th - 3), (x + tw + 2, y + 3), (0, 0, 0), -1)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.42, colour, 1, cv2.LINE_AA)


def depth_zones() -> Image:
    """Both zones with a person outline of the expected size at three foot rows, and the
    smallest object (in analysis pixels) the detector accepts there."""
    cfg = MotionConfig(zones=[FAR, NEAR])
    aw, ah = analysis_size(W, H, cfg.frame_height)
    zones = ZoneMap(cfg.zones, [], aw, ah, cfg.timezone)
    img = background()
    overlay = img.copy()
    for area in zones.areas:
        cv2.fillPoly(overlay, [_polygon(area.zone)], COLOURS[area.zone.name])
    img = np.asarray(cv2.addWeighted(overlay, 0.18, img, 0.82, 0), np.uint8)
    for area in zones.areas:
        colour = COLOURS[area.zone.name]
        cv2.polylines(img, [_polygon(area.zone)], True, colour, 2, cv2.LINE_AA)
        _, zy, _, zh = area.rect
        for k, share in enumerate((0.02, 0.5, 0.98)):
            foot = zy + round(share * (zh - 1))
            least = area.min_at((0, foot, 1, 1))
            _person(img, area.zone, foot / ah, 0.42 + 0.2 * k, colour, least)
        name = area.zone.name
        _label(img, f"zone '{name}'", (12 + (250 if name == "yard" else 0), 8 + zy * H // ah + 14),
               colour)  # fmt: skip
    return img


def _person(
    img: Image, zone: Zone, foot: float, x: float, colour: tuple[int, int, int], least: int
) -> None:
    """An outline of a person of the height the zone expects with its feet at ``foot``."""
    near, far = zone.person_height or 0.0, zone.person_height_far or zone.person_height or 0.0
    ys = [y for _, y in zone.polygon]
    top, bottom = min(ys), max(ys)
    p = (foot - top) / (bottom - top) if bottom > top else 1.0
    tall = (far + min(1.0, max(0.0, p)) * (near - far)) * H
    wide = PERSON_WIDTH * tall
    cx, fy = round(x * W), round(foot * H)
    head = max(2, round(tall / 8))
    cv2.circle(img, (cx, fy - round(tall) + head), head, colour, 1, cv2.LINE_AA)
    cv2.rectangle(img, (round(cx - wide / 2), fy - round(tall) + 2 * head),
                  (round(cx + wide / 2), fy), colour, 1, cv2.LINE_AA)  # fmt: skip
    _label(img, f"{round(wide)}x{round(tall)} px, min {least}", (cx + round(wide / 2) + 4, fy - 2),
           colour)  # fmt: skip


def track() -> Image:
    """A runner's sightings on five frames at 10 fps, each step wider than the runner, with
    the gates the tracker searches: wide for the second sighting, tight once the velocity is
    known."""
    img = background()
    step, w, h, foot = 52, 22, 80, 0.92
    colour, gate_colour = (60, 200, 255), (255, 180, 80)
    for k in range(5):
        x0 = 60 + k * step
        y1 = round(foot * H)
        cv2.rectangle(img, (x0, y1 - h), (x0 + w, y1), colour, 2, cv2.LINE_AA)
        _label(img, f"t{k}", (x0 + 2, y1 - h - 6), colour)
        if k == 1:
            reach = MAX_SPEED * max(w, h) * 0.1  # the same in any unit: sizes scale with it
            cv2.circle(img, (60 + w // 2, y1 - h // 2), round(reach), gate_colour, 1, cv2.LINE_AA)
        elif k >= 2:
            radius = max(0.3 * h, 0.3 * step)
            centre = (x0 + w // 2, y1 - h // 2)
            cv2.circle(img, centre, round(radius), gate_colour, 1, cv2.LINE_AA)
    _label(img, "confirmed at t2: 3 sightings, similar size, same direction", (40, 40), colour)
    _label(img, "circles: where the next sighting may be (predicted at constant velocity)",
           (40, 60), gate_colour)  # fmt: skip
    return img


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, img in (("motion-depth-zones.png", depth_zones()), ("motion-track.png", track())):
        cv2.imwrite(str(OUT / name), img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        print(OUT / name)


if __name__ == "__main__":
    main()
