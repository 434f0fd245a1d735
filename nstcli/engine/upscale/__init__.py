"""x4 super-resolution: the SRResNet generator, tiled inference, metrics and weights."""

#: The shipped generators' `--model` names, free of torch so the command line can offer
#: them at start-up; `upscale.weights.UPSCALERS` has one spec for each.
UPSCALER_MODELS = ("srresnet", "srgan")
