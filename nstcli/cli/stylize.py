"""`nst stylize`: one content image, one or more style images, one stylised result (a clip
as CONTENT goes on in `cli.clip`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

import nstcli.cli.clip as clip_command
import nstcli.cli.options as opt
from nstcli.cli.common import Backbone, err_console, out_console, use_weights_dir, user_errors
from nstcli.cli.progress import step_progress
from nstcli.engine.backbone_facts import BACKBONE_FACTS

if TYPE_CHECKING:
    from PIL import Image

    from nstcli.engine.result import StepRecord

_BACKBONE_HELP = (
    "Feature network: "
    + ", ".join(f"{name} ({facts.title})" for name, facts in BACKBONE_FACTS.items())
    + ". vgg (original weights) and lite work offline."
)
#: Frames in a --gif when --save-every is not given.
_GIF_FRAMES = 30


def default_output(content: Path, styles: list[Path], backbone: str) -> Path:
    """`tubingen_starry_night_vgg.png` in the current folder (`+N` for extra styles)."""
    extra = f"+{len(styles) - 1}" if len(styles) > 1 else ""
    return Path(f"{content.stem}_{styles[0].stem}{extra}_{backbone}.png")


def frame_path(output: Path, step: int) -> Path:
    """`out_0050.png` beside `out.png`: the numbered sequence written by --save-every."""
    return output.with_name(f"{output.stem}_{step:04d}{output.suffix}")


def stylize(
    content: Annotated[
        Path, typer.Argument(help="Photo whose layout is kept.", show_default=False)
    ],
    styles: Annotated[
        list[Path],
        typer.Argument(
            help="Painting(s) whose style is applied: image files, or names from the "
            "gallery (`nst styles`; a unique prefix will do). Several are blended "
            "(see --style-blend).",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Result file (.png, .jpg, .webp, .tif; for a clip .mp4, .gif, .webp, or a "
            "folder DIR/ of frame_0001.png etc.). (default: CONTENT_STYLE_BACKBONE.png/.mp4)",
            show_default=False,
        ),
    ] = None,
    backbone: Annotated[Backbone, typer.Option(help=_BACKBONE_HELP)] = opt.DEFAULT_BACKBONE,
    size: opt.Size = opt.DEFAULTS.size,
    steps: opt.Steps = None,
    optimizer: opt.OptimizerOpt = None,
    lr: opt.Lr = None,
    content_weight: opt.ContentWeight = None,
    style_weight: opt.StyleWeight = None,
    strength: opt.Strength = opt.DEFAULTS.strength,
    tv_weight: opt.TvWeight = None,
    chroma_tv_weight: opt.ChromaTvWeight = None,
    style_layers: opt.StyleLayers = None,
    content_layers: opt.ContentLayers = None,
    init: opt.InitOpt = None,
    seed: opt.Seed = opt.DEFAULTS.seed,
    grad_clip: opt.GradClip = None,
    multiscale: opt.Multiscale = opt.DEFAULTS.multiscale,
    start_size: opt.StartSize = None,
    preserve_color: opt.PreserveColor = opt.DEFAULTS.preserve_color,
    style_blend: opt.StyleBlend = None,
    style_scale: opt.StyleScale = opt.DEFAULTS.style_scale,
    smoothing: opt.Smoothing = None,
    parameterization: opt.ParameterizationOpt = None,
    pooling: opt.PoolingOpt = opt.DEFAULT_POOLING,
    precision: opt.PrecisionOpt = opt.DEFAULT_PRECISION,
    max_memory: opt.MaxMemory = None,
    tile: opt.Tile = None,
    mask: Annotated[
        list[Path] | None,
        typer.Option(
            help="Where to stylise: white = style, black = keep the content, grey = blend. "
            "Give one per style image to paint regions with different styles.",
            show_default=False,
        ),
    ] = None,
    device: opt.DeviceOpt = opt.DEFAULT_DEVICE,
    threads: opt.Threads = None,
    weights: opt.Weights = None,
    weights_dir: opt.WeightsDir = None,
    offline: opt.Offline = opt.DEFAULTS.offline,
    save_every: Annotated[
        int,
        typer.Option(
            help="Also save the image every N steps as OUTPUT_0050.png etc. (0: off).", min=0
        ),
    ] = 0,
    gif: Annotated[
        Path | None,
        typer.Option(help="Write an animated GIF of the optimisation here.", show_default=False),
    ] = None,
    depth: Annotated[
        int | None,
        typer.Option(
            help="Bits per channel of the output: 8, or 16 for .png/.tif. "
            "(default: 16 for .tif, and for .png when the content is 16-bit; else 8)",
            show_default=False,
        ),
    ] = None,
    upscale: Annotated[
        bool,
        typer.Option(
            "--upscale",
            help="Then enlarge the result x4 with the project's SRResNet (nst upscale).",
        ),
    ] = False,
    fps: opt.ClipFps = None,
    max_frames: opt.MaxFrames = None,
    start: opt.ClipStart = 0.0,
    duration: opt.ClipDuration = None,
    temporal: opt.Temporal = True,
    frame_steps: opt.FrameSteps = None,
    temporal_weight: opt.TemporalWeight = None,
    resume: opt.Resume = False,
    quiet: opt.Quiet = False,
    as_json: opt.Json = False,
) -> None:
    """Render CONTENT in the style of STYLE (Gatys et al. optimisation over a pre-trained CNN)."""
    options = dict(locals())  # every option by parameter name, before anything else is bound
    with user_errors():
        # Checks that need no torch come first, so a bad request is refused in a blink.
        from nstcli.engine.clip.source import is_clip
        from nstcli.engine.images import (
            check_depth,
            check_writable,
            load_image,
            load_picture,
            save_animation,
            save_image,
            save_pixels,
        )
        from nstcli.engine.sizing import check_request
        from nstcli.gallery import style_source

        use_weights_dir(weights_dir)
        config = opt.config_from_options(options)
        sources = [style_source(style) for style in styles]  # a file wins over a slug
        inputs = [content, *(s.path for s in sources if s.path), *(mask or [])]
        if is_clip(content):  # a video or an animated GIF/WebP
            style_images = [source.open() for source in sources]
            mask_images = [load_image(path) for path in mask] if mask else None
            output = output or clip_command.default_output(content, styles, backbone.value)
            clip_command.stylize_clip(
                content, style_images, mask_images, inputs, output, config, options
            )
            return
        clip_command.refuse_clip_options(options)
        output = output or default_output(content, styles, backbone.value)
        output = check_writable(output, inputs)
        check_depth(output, depth)
        if gif is not None:
            check_writable(gif, [*inputs, output], extensions={".gif"})
        picture = load_picture(content)
        content_image = picture.rgb
        width, height = check_request(
            content_image.size, config.size, config.max_memory, str(content)
        )
        style_images = [source.open() for source in sources]
        mask_images = [load_image(path) for path in mask] if mask else None

        from nstcli.engine.device import pick_device
        from nstcli.engine.job import prepare
        from nstcli.engine.stylize import run as run_job
        from nstcli.engine.upscale.pipeline import (
            UpscaleConfig,
            check_output_size,
            load_upscaler_for,
            upscale_image,
        )

        upscaler = None
        if upscale:  # weights and the x4 output size are checked before any work
            pick_device(config.device)  # but an absent --device is the first thing said
            upscaler = load_upscaler_for(UpscaleConfig())
            check_output_size(width, height, upscaler.scale, UpscaleConfig().max_pixels)
        # Every stylisation problem (device, weights, sizes) surfaces before the progress bar.
        job = prepare(content_image, style_images, config, masks=mask_images)
        config = job.config
        if not (quiet or as_json):
            err_console.print(f"[bold]plan[/]: {job.plan.describe()}", highlight=False)

        frames: list[Image.Image] = []
        every = save_every or (max(1, config.steps // _GIF_FRAMES) if gif else 0)

        def on_snapshot(record: StepRecord, image: Image.Image) -> None:
            if save_every and record.step % save_every == 0:
                save_image(image, frame_path(output, record.step))
            if gif is not None:
                frames.append(image)

        title = f"{backbone.value} {size}px"
        with step_progress(title, not (quiet or as_json)) as on_step:
            result = run_job(job, on_step, on_snapshot=on_snapshot, snapshot_every=every)
        bits = depth or (16 if picture.bits == 16 and output.suffix.lower() == ".png" else None)
        pixels = result.float_pixels()
        if upscaler is not None:
            if not (quiet or as_json):
                err_console.print("upscaling x4 …")
            enlarged = upscale_image(result.image, UpscaleConfig(), upscaler=upscaler)
            result.image = enlarged.image
            pixels = result.float_pixels_of(enlarged.image)
        result.output_path = save_pixels(pixels, output, picture.alpha, bits)
        if gif is not None:
            save_animation([*frames, result.image], gif)
    if as_json:
        out_console.print_json(json.dumps(result.summary()))
    elif not quiet:
        err_console.print(
            f"[green]saved[/] {output} ({result.image.width}×{result.image.height}, "
            f"{result.steps} steps in {result.wall_time:.1f}s, "
            f"{result.seconds_per_step:.3f}s/step, "
            f"scales {'→'.join(map(str, result.scales))}, {result.precision})"
        )
