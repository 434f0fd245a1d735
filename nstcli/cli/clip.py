"""`nst stylize CLIP STYLE…`: a video or an animated GIF/WebP, stylised frame by frame.

`nst stylize` hands over here once its style settings, style images and masks are read,
when CONTENT is a clip (`engine.clip.source.is_clip`). This module only checks the output,
prints the plan, draws progress and reports; the work is `engine.clip.pipeline`'s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from nstcli.cli.common import err_console, out_console
from nstcli.cli.progress import clip_progress
from nstcli.engine.errors import InputError, OutputError

if TYPE_CHECKING:
    from PIL import Image

    from nstcli.engine.config import StylizeConfig

#: Still-image outputs that a clip has no use for: named in the refusal.
STILL_ONLY = {"save_every": "--save-every", "gif": "--gif", "depth": "--depth",
              "upscale": "--upscale"}  # fmt: skip


def refuse_clip_options(options: Mapping[str, Any]) -> None:
    """A still CONTENT with a clip option is a mistake worth one line."""
    defaults = {"fps": None, "max_frames": None, "start": 0.0, "duration": None,
                "temporal": True, "frame_steps": None, "temporal_weight": None,
                "resume": False}  # fmt: skip
    for name, default in defaults.items():
        if options.get(name, default) != default:
            flag = "--no-temporal" if name == "temporal" else f"--{name.replace('_', '-')}"
            raise InputError(f"{flag} applies to clips (videos, animated GIF/WebP) only")


def default_output(content: Path, styles: Sequence[Path], backbone: str) -> Path:
    """`clip_starry_night_lite.mp4` (a GIF stays a GIF) in the current folder."""
    extra = f"+{len(styles) - 1}" if len(styles) > 1 else ""
    suffix = ".gif" if content.suffix.lower() == ".gif" else ".mp4"
    return Path(f"{content.stem}_{Path(styles[0]).stem}{extra}_{backbone}{suffix}")


def stylize_clip(
    content: Path,
    style_images: Sequence[Image.Image],
    mask_images: Sequence[Image.Image] | None,
    inputs: Sequence[Path],
    output: Path,
    config: StylizeConfig,
    options: Mapping[str, Any],
) -> None:
    """Check, plan, stylise and write one clip (inside the caller's `user_errors`)."""
    from nstcli.engine.clip.source import ClipLimits, ClipSelection, probe, schedule
    from nstcli.engine.clip.writer import AudioSource, clip_format, write_clip
    from nstcli.engine.images import check_writable

    for name, flag in STILL_ONLY.items():
        if options.get(name):
            raise InputError(f"{flag} applies to still images only, not to clips")
    quiet = bool(options.get("quiet") or options.get("as_json"))
    folder_output = output.is_dir() or not output.suffix
    if folder_output:
        if any(_same(output, path) for path in inputs):
            raise OutputError(f"{output}: is an input; choose another folder")
        if output.exists() and not output.is_dir():
            raise OutputError(f"{output}: exists and is not a folder")
        if not (output.parent if str(output.parent) else Path(".")).is_dir():
            raise OutputError(f"{output}: folder {output.parent} does not exist")
    else:
        clip_format(output)
        check_writable(output, inputs, extensions={output.suffix.lower()})
    selection = ClipSelection(
        fps=options.get("fps"),
        start=float(options.get("start") or 0.0),
        duration=options.get("duration"),
        max_frames=options.get("max_frames"),
    )
    # The clip's metadata before torch loads (seconds): a two-hour video, a file with no
    # picture track or one FFmpeg cannot open is refused in a blink. `prepare_clip` reads
    # the same metadata again under the same limits; that costs milliseconds.
    schedule(probe(content), selection, ClipLimits())
    from nstcli.engine.clip.pipeline import ClipSettings, prepare_clip, run_clip
    from nstcli.engine.clip.store import FrameStore, work_folder

    settings = ClipSettings(
        temporal=bool(options.get("temporal", True)),
        frame_steps=options.get("frame_steps"),
        temporal_weight=options.get("temporal_weight"),
    )
    job = prepare_clip(content, style_images, config, settings, selection, masks=mask_images)
    if not quiet:
        err_console.print(f"[bold]plan[/]: {job.describe()}", highlight=False)
    store = FrameStore(
        output if folder_output else work_folder(output), job.fingerprint,
        resume=bool(options.get("resume")),
    )  # fmt: skip
    if store.resumed and not quiet:
        err_console.print(f"resuming after frame {store.resumed} of {job.frames.count}")
    title = f"{job.first.config.backbone} {max(job.size)}px"
    try:
        with clip_progress(title, not quiet) as on_progress:
            result = run_clip(job, store, on_progress)
    except KeyboardInterrupt:
        err_console.print(
            f"[yellow]interrupted[/] after frame {len(store)} of {job.frames.count}: "
            f"{'no clip was written; ' if not folder_output else ''}"
            "run again with --resume to continue"
        )
        raise typer.Exit(130) from None
    if result.frames < job.frames.count and not options.get("quiet"):
        # A file cut short (a broken download) decodes fewer frames than its index lists.
        err_console.print(
            f"[yellow]warning[/]: {content}: only {result.frames} of the {job.frames.count} "
            "frames its metadata lists could be decoded (is the file cut short?); the result "
            f"has {result.frames}",
            highlight=False,
        )
    audio = "none"
    if folder_output:
        store.complete(keep_frames=True)
    else:
        info = job.info
        source = None
        if info.has_audio and clip_format(output) == "mp4":
            source = AudioSource(info.path, job.frames.start, result.duration, info.duration)
            audio = "kept"
        write_clip(store, output, job.frames.fps, source)
        store.complete(keep_frames=False)
    summary = result.summary() | {
        "output": str(output), "audio": audio, "planned_frames": job.frames.count,
    }  # fmt: skip
    if options.get("as_json"):
        out_console.print_json(json.dumps(summary))
    elif not quiet:
        later = summary["later_frame_s"]
        each = f", then {later:.1f}s a frame" if later is not None else ""
        err_console.print(
            f"[green]saved[/] {output}{'/' if folder_output else ''} ({result.frames} "
            f"frame{'s' if result.frames != 1 else ''} of {job.size[0]}×{job.size[1]} at "
            f"{job.frames.fps:.3g} fps, audio {audio}; "
            f"{result.wall_time:.1f}s{each})",
            highlight=False,
        )


def _same(first: Path, second: Path) -> bool:
    try:
        return first.resolve() == Path(second).resolve()
    except OSError:
        return False
