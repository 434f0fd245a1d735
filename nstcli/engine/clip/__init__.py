"""Clips (videos, animated GIF/WebP): reading (`source`), optical flow (`flow`), the
temporally consistent pipeline over the still engine (`pipeline`), finished frames on
disk (`store`) and writing (`writer`)."""
