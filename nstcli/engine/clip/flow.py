"""Optical flow between input frames, and what it says about which pixels can be trusted.

The clip pipeline only needs "where was this pixel in the previous frame?" and "can I
trust that answer here?". The estimator sits behind `FlowEstimator`, a callable from two
grey frames to a flow field, so a learned flow (RAFT and the like) can be added beside
OpenCV's DIS (Kroeger et al. 2016), which runs in milliseconds on a CPU.

Reliability follows Ruder et al. 2016 ("Artistic style transfer for videos", sec. 3.1):
a pixel is left free where the forward and backward flows disagree (a disocclusion:
it was hidden in the previous frame), where the flow changes sharply (a motion
boundary), or where it points outside the previous frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

#: (source grey, target grey) -> H×W×2 float32 flow with source(x) ≈ target(x + flow(x)).
FlowEstimator = Callable[[np.ndarray, np.ndarray], np.ndarray]


class DisFlow:
    """OpenCV's Dense Inverse Search flow (CPU, ~10 ms at 360 px)."""

    PRESETS: ClassVar[dict[str, int]] = {
        "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
        "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
        "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
    }

    def __init__(self, preset: str = "medium"):
        self._dis = cv2.DISOpticalFlow_create(self.PRESETS[preset])

    def __call__(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        flow = self._dis.calc(source, target, None)
        return np.asarray(flow, dtype=np.float32)


#: Flow methods by name; a learned flow is one more entry.
FLOW_METHODS: dict[str, Callable[[], FlowEstimator]] = {"dis": DisFlow}


@dataclass(frozen=True)
class Motion:
    """How frame t relates to frame t−1, seen from frame t."""

    #: H×W×2: pixel x of frame t was at x + backward[x] in frame t−1.
    backward: np.ndarray
    #: H×W float32 in {0, 1}: 1 where that correspondence is trusted.
    reliable: np.ndarray

    @property
    def reliable_share(self) -> float:
        return float(self.reliable.mean())


def grey(rgb: np.ndarray) -> np.ndarray:
    """An 8-bit H×W×3 RGB frame as the 8-bit grey image DIS works on."""
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """`image` (H×W×C, of frame t−1) pulled into frame t along the backward flow.

    Bilinear; positions outside the frame take the nearest edge pixel (they are marked
    unreliable by `motion_between` anyway).
    """
    height, width = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(
        image, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )  # fmt: skip


def motion_between(previous: np.ndarray, current: np.ndarray, estimator: FlowEstimator) -> Motion:
    """Backward flow from `current` to `previous` (8-bit RGB frames) and its reliability."""
    now, before = grey(current), grey(previous)
    backward = estimator(now, before)
    forward = estimator(before, now)
    return Motion(backward, reliability(backward, forward))


def reliability(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """1 where the backward flow is trusted, 0 at disocclusions, motion boundaries and
    positions outside the previous frame (Ruder et al. 2016, eqs. 5–6)."""
    # The forward flow where each pixel of frame t came from: for a consistent pair it
    # leads straight back (backward + forward ≈ 0).
    returned = warp(forward, backward)
    mismatch = np.square(backward + returned).sum(-1)
    scale = np.square(backward).sum(-1) + np.square(returned).sum(-1)
    occluded = mismatch > 0.01 * scale + 0.5
    du_y, du_x = np.gradient(backward[..., 0])
    dv_y, dv_x = np.gradient(backward[..., 1])
    gradient = du_x**2 + du_y**2 + dv_x**2 + dv_y**2
    boundary = gradient > 0.01 * np.square(backward).sum(-1) + 0.002
    return (~(occluded | boundary | outside_frame(backward))).astype(np.float32)


def outside_frame(backward: np.ndarray) -> np.ndarray:
    """True where the backward flow points outside the previous frame (new at the edge)."""
    height, width = backward.shape[:2]
    xs, ys = np.meshgrid(np.arange(width), np.arange(height))
    x_from, y_from = xs + backward[..., 0], ys + backward[..., 1]
    return (x_from < 0) | (x_from > width - 1) | (y_from < 0) | (y_from > height - 1)


def warping_error(previous_output: np.ndarray, output: np.ndarray, motion: Motion) -> float:
    """Mean |O_t − warp(O_{t−1})| over reliable pixels, in grey levels (8-bit RGB inputs).

    The flicker measure: how much the result changes beyond what the motion explains.
    """
    warped = warp(previous_output.astype(np.float32), motion.backward)
    difference = np.abs(output.astype(np.float32) - warped).mean(-1)
    weights = motion.reliable
    return float((difference * weights).sum() / max(1.0, float(weights.sum())))
