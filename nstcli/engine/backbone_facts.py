"""What is known about each backbone without building it: titles, colours, layers.

The one table of these facts, free of torch on purpose: the command line offers the
backbones (`nst --help`, shell completion) without importing torchvision, which the
`nstcli.engine.backbones` package does. That registry reads the same rows: it lists the
backbones in this table's order, each from its module `nstcli.engine.backbones.NAME`,
whose `SPEC` carries `facts=BACKBONE_FACTS[NAME]`. Adding a backbone is a row here and
its module.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BackboneFacts:
    """Plain facts about one backbone, readable without torch."""

    #: The `--backbone` value, and the module name under `nstcli.engine.backbones`.
    name: str
    #: The network's name, e.g. "EfficientNet-Lite0".
    title: str
    #: The same, short enough for a bot button.
    short_title: str
    #: Line colour on comparison sheets, and the matplotlib colour map of its sweeps.
    color: str
    color_family: str
    #: Default feature layers of the SRGAN trainer's perceptual loss (empty: none chosen).
    perceptual_layers: tuple[str, ...] = ()
    #: Whether `--pooling avg` applies (the backbone has pooling layers to swap).
    pooling: bool = False

    @property
    def captioned_title(self) -> str:
        """The title with the short title its buttons show, e.g. "EfficientNet-Lite0 (Lite)".

        Captions use this so that the name a user pressed appears in the result's caption.
        """
        return (
            self.title if self.short_title == self.title else f"{self.title} ({self.short_title})"
        )


BACKBONE_FACTS: dict[str, BackboneFacts] = {
    facts.name: facts
    for facts in (
        BackboneFacts(
            name="vgg",
            title="VGG19",
            short_title="VGG19",
            color="#1f77b4",
            color_family="Blues",
            perceptual_layers=("conv5_4",),
            pooling=True,
        ),
        BackboneFacts(
            name="resnet",
            title="ResNet50",
            short_title="ResNet50",
            color="#d95f02",
            color_family="Oranges",
        ),
        BackboneFacts(
            name="lite",
            title="EfficientNet-Lite0",
            short_title="Lite",
            color="#2ca02c",
            color_family="Greens",
            # The stride-2 `stem` matters: with only stride >= 4 features the generator
            # learns a period-4 grid the loss cannot see.
            perceptual_layers=("stem", "block2", "block4", "block10"),
        ),
    )
}
