"""`--strength`: one knob from 0 (the photo) to 1 (much more style) over a backbone's
defaults.

A thin mapping on top of whatever the defaults are, so the default strength is exactly
the default run. It moves things in the optimisation, not a fade of the result:

- the balance of the loss terms: the style weight is the backbone's default times
  ``(strength / DEFAULT_STRENGTH) ** exponent`` (0 at strength 0, 1 at the default,
  ``2 ** above`` at 1), with one exponent under the default and one over it; a backbone
  may let its chroma-TV weight follow the style factor over the default;
- where the first scale starts: the palette (or noise) start blended toward the photo,
  all the way to the photo at strength 0 (``min(1, strength / DEFAULT_STRENGTH) **
  start_exponent`` of the start, the rest photo), and over the default, where a backbone
  asks for it, blurred (less of the photo's detail for the style to keep).

Each backbone declares its `StrengthCurve` beside its defaults (`BackboneSpec.strength`),
calibrated with `bench/strength.py` on the reference pairs so that equal steps of strength
move the measured figures by comparable amounts (README, Strength). An explicit style or
content weight overrides the balance; the start still follows the strength.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The point of the scale that is the backbone's default run, byte for byte.
DEFAULT_STRENGTH = 0.5


@dataclass(frozen=True)
class StrengthCurve:
    """How strength maps onto one backbone's style weight and start image."""

    #: Style-weight exponent under the default strength (larger: less style sooner).
    below: float = 2.0
    #: Style-weight exponent over it (strength 1 multiplies the style weight by 2**above).
    above: float = 2.0
    #: Exponent of the start's share under the default strength (1: linear to the photo).
    start_exponent: float = 1.0
    #: Over the default, the chroma-TV weight takes the style factor too: for lite, more
    #: style weight alone mostly adds colour confetti (grain 0.85 → 1.9 at strength 1).
    chroma_tv_follows: bool = False
    #: Over the default, the first start is blurred, up to this sigma (in pixels of a
    #: 512 px image) at strength 1: lite's style saturates in its weight, and what holds
    #: the photo is the detail of the start.
    blur_at_full: float = 0.0

    def style_factor(self, strength: float) -> float:
        """What the default style weight is multiplied by; exactly 1.0 at the default."""
        ratio = strength / DEFAULT_STRENGTH
        return ratio ** (self.below if ratio < 1 else self.above)

    def start_blur(self, strength: float) -> float:
        """Sigma of the blur of the first start (512 px units): 0 up to the default."""
        over = max(0.0, strength / DEFAULT_STRENGTH - 1)
        return self.blur_at_full * over

    def start_share(self, strength: float) -> float:
        """How much of the palette/noise start to keep, the rest being the photo: 1.0 at
        and over the default, 0.0 at strength 0."""
        return min(1.0, strength / DEFAULT_STRENGTH) ** self.start_exponent
