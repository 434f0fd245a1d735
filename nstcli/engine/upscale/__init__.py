"""x4 super-resolution: the SRResNet generator, tiled inference, metrics and weights."""
