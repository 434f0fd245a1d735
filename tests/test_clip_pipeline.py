"""The clip pipeline over the still engine (guide, temporal term, resume) and `nst stylize`
with a clip: tiny synthetic clips, few steps, the packaged lite weights."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from nstcli import samples
from nstcli.cli.app import app
from nstcli.engine.clip import pipeline
from nstcli.engine.clip.pipeline import ClipSettings, prepare_clip, run_clip
from nstcli.engine.clip.store import FrameStore, work_folder
from nstcli.engine.config import StylizeConfig
from nstcli.engine.errors import Cancelled
from nstcli.engine.guide import Guide, anchor_at
from nstcli.engine.job import prepare
from nstcli.engine.objective import temporal_term
from nstcli.engine.stylize import run
from nstcli.engine.targets import Targets
from tests import clipmaker
from tests.test_careful_cli import RUN_AND_REPORT_TORCH, nst_subprocess

CONFIG = StylizeConfig(backbone="lite", size=48, steps=4, multiscale=False)
SETTINGS = ClipSettings(frame_steps=2)
runner = CliRunner()


@pytest.fixture
def clip(tmp_path):
    return clipmaker.write_video(tmp_path / "clip.mp4", clipmaker.frames(4), 12, audio_seconds=0.4)


@pytest.fixture
def style():
    return samples.style_picture(48, 48)


def test_temporal_term_is_zero_without_a_guide_and_pulls_towards_it():
    image = torch.rand(1, 3, 8, 8)
    empty = Targets({}, [], False)
    assert float(temporal_term({}, image, empty)) == 0
    guide = Guide(Image.new("RGB", (8, 8), (255, 255, 255)), Image.new("L", (8, 8), 255))
    anchored = Targets({}, [], False, anchor_at(guide, (8, 8), None, torch.device("cpu")))
    assert float(temporal_term({}, image, anchored)) > 0
    free = Guide(guide.image, Image.new("L", (8, 8), 0))  # nothing reliable: nothing held
    loose = Targets({}, [], False, anchor_at(free, (8, 8), None, torch.device("cpu")))
    assert float(temporal_term({}, image, loose)) == 0


def test_the_guide_keeps_the_previous_result_where_the_flow_leaves_the_frame():
    # the view pans right 2 px: the last columns come from outside the previous frame,
    # where a warp could only repeat the edge column (streaks that grow frame after frame)
    before, now = (np.asarray(image) for image in clipmaker.frames(2, 96, 72))
    previous = np.random.default_rng(0).integers(0, 255, before.shape, dtype=np.uint8)
    guide, _ = pipeline._guide(before, now, previous, pipeline.FLOW_METHODS["dis"]())
    start = np.asarray(guide.image)
    edge = np.asarray(guide.reliable)[:, -2] == 0
    assert edge.mean() > 0.5
    assert np.array_equal(start[edge, -2], previous[edge, -2])  # not previous[:, -1] again
    assert np.abs(start[:, 40:50].astype(int) - previous[:, 42:52]).mean() < 40  # warped inside


def test_a_guide_is_the_start_and_holds_the_result(content_image, style):
    grey = Image.new("RGB", content_image.size, (128, 128, 128))
    config = StylizeConfig(backbone="lite", size=48, steps=3, multiscale=False)
    held = dataclass_replace(config, temporal_weight=1e9)
    guided = run(prepare(content_image, style, held, guide=Guide(grey))).image
    free = run(prepare(content_image, style, config)).image
    distance = [np.abs(np.asarray(i, np.float32) - 128).mean() for i in (guided, free)]
    assert distance[0] < 3 < distance[1]


def dataclass_replace(config: StylizeConfig, **fields) -> StylizeConfig:
    import dataclasses

    return dataclasses.replace(config, **fields)


def test_clip_run_plans_first_and_later_frames_and_stores_them(tmp_path, clip, style):
    job = prepare_clip(clip, [style], CONFIG, SETTINGS)
    assert job.frames.count == 4 and job.size == (48, 36)
    assert job.first.plan.total_steps == 4 and job.later_plan.total_steps == 2
    assert job.later_config.temporal_weight == pipeline.TEMPORAL_WEIGHT["lite"]
    assert job.total_steps == 4 + 3 * 2
    assert "4 frames of 48×36 at 12 fps" in job.describe()
    events = []
    store = FrameStore(tmp_path / "frames", job.fingerprint)
    result = run_clip(job, store, events.append)
    assert result.frames == len(store) == 4 and len(result.reliable_share) == 3
    finished = [event.frame for event in events if event.finished is not None]
    assert finished == [1, 2, 3, 4]
    fractions = [event.work_done for event in events]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1)
    assert sorted(p.name for p in (tmp_path / "frames").glob("*.png"))[0] == "frame_0001.png"


def test_no_temporal_runs_every_frame_on_its_own(clip, style, tmp_path):
    job = prepare_clip(clip, [style], CONFIG, ClipSettings(temporal=False))
    assert job.later_config == job.first.config and job.total_steps == 16
    result = run_clip(job, FrameStore(tmp_path / "f", job.fingerprint))
    assert result.reliable_share == []


def test_resume_continues_the_same_job_only(tmp_path, clip, style):
    job = prepare_clip(clip, [style], CONFIG, SETTINGS)
    folder = tmp_path / "frames"
    done: list[int] = []

    def stop_after_two() -> bool:
        return len(done) >= 2

    def on_progress(event) -> None:
        if event.finished is not None:
            done.append(event.frame)

    with pytest.raises(Cancelled):
        run_clip(job, FrameStore(folder, job.fingerprint), on_progress, stop_after_two)
    assert len(list(folder.glob("frame_*.png"))) == 2
    resumed = FrameStore(folder, job.fingerprint, resume=True)
    assert resumed.resumed == 2
    result = run_clip(job, resumed)
    assert result.resumed == 2 and len(result.frame_seconds) == 2 and len(resumed) == 4
    other = prepare_clip(clip, [style], CONFIG, ClipSettings(frame_steps=3))
    assert FrameStore(folder, other.fingerprint, resume=True).resumed == 0
    assert not list(folder.glob("frame_*.png"))  # another job's frames are cleared


def _cli(*args):
    return runner.invoke(app, ["stylize", *map(str, args)], catch_exceptions=False)


FAST = ("--backbone", "lite", "--size", "48", "--steps", "3", "--frame-steps", "2", "-q")


def test_cli_gif_to_frames_folder_and_mp4_with_audio(tmp_path, clip, style_path):
    gif = clipmaker.write_gif(tmp_path / "in.gif", clipmaker.frames(3))
    result = _cli(gif, style_path, "-o", tmp_path / "frames/", *FAST)
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "frames").iterdir())
    assert names == ["frame_0001.png", "frame_0002.png", "frame_0003.png"]
    out = tmp_path / "out.mp4"
    result = _cli(clip, style_path, "-o", out, *FAST)
    assert result.exit_code == 0, result.output
    count, audio, h264 = clipmaker.count_frames(out)
    assert count == 4 and h264 and audio == pytest.approx(0.4, abs=0.05)
    assert not work_folder(out).exists() and not list(tmp_path.glob(".*part"))


def test_cli_json_and_plan_line(tmp_path, clip, style_path):
    result = _cli(clip, style_path, "-o", tmp_path / "o.gif", *FAST[:-1], "--max-frames", "2")
    assert result.exit_code == 0, result.output
    text = result.output.replace("\n", " ")
    assert "plan: 2 frames of 48×36 at 12 fps" in text and "= 5 steps" in text
    assert "saved" in text and "2 frames" in text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("-o", "out.avi"), "mp4"),
        (("--upscale",), "--upscale applies to still images only"),
        (("--fps", "0"), "--fps must be above 0"),
        (("--start", "9"), "past the end"),
    ],
)
def test_cli_clip_refusals_are_one_line(tmp_path, clip, style_path, extra, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _cli(clip, style_path, *FAST, *extra)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and message in result.output.replace("\n", " ")
    assert "Traceback" not in result.output


def test_cli_refuses_a_two_hour_clip_before_torch_loads(tmp_path, style_path):
    long = clipmaker.write_two_hours(tmp_path / "long.mp4")
    result = nst_subprocess(
        RUN_AND_REPORT_TORCH, "stylize", str(long), str(style_path), "-o", str(tmp_path / "o.mp4")
    )
    assert "2:00:0" in result.stderr and "more than the limit" in result.stderr
    assert "NO-TORCH 2" in result.stderr and "Traceback" not in result.stderr


def test_cli_says_when_a_clip_ends_before_its_metadata_does(
    tmp_path, clip, style_path, monkeypatch
):
    # a file cut short: its index lists 4 frames, 2 decode (as a truncated download does)
    real_read = pipeline.read_frames

    def cut_short(*args):
        yield from itertools.islice(real_read(*args), 2)

    monkeypatch.setattr(pipeline, "read_frames", cut_short)
    result = _cli(clip, style_path, "-o", tmp_path / "o.mp4", *FAST[:-1])
    assert result.exit_code == 0, result.output
    assert "only 2 of the 4 frames its metadata lists" in " ".join(result.output.split())
    count, audio, _ = clipmaker.count_frames(tmp_path / "o.mp4")
    assert count == 2 and audio == pytest.approx(2 / 12, abs=0.03)  # the sound cut to match


def test_cli_clip_options_on_a_still_are_refused(content_path, style_path):
    result = _cli(content_path, style_path, "--no-temporal")
    assert result.exit_code == 2 and "--no-temporal applies to clips" in result.output


def test_cli_interrupt_leaves_no_clip_and_resume_finishes(tmp_path, clip, style_path, monkeypatch):
    out = tmp_path / "out.mp4"
    real_run = pipeline.run

    def interrupted(job, *args, **kwargs):
        if job.guide is not None and job.guide.image is not None and len(calls) >= 2:
            raise KeyboardInterrupt
        calls.append(1)
        return real_run(job, *args, **kwargs)

    calls: list[int] = []
    monkeypatch.setattr(pipeline, "run", interrupted)
    result = _cli(clip, style_path, "-o", out, *FAST[:-1])
    assert result.exit_code == 130 and "--resume" in result.output
    assert not out.exists() and len(list(work_folder(out).glob("frame_*.png"))) == 2
    monkeypatch.setattr(pipeline, "run", real_run)
    result = _cli(clip, style_path, "-o", out, *FAST[:-1], "--resume")
    assert result.exit_code == 0, result.output
    assert "resuming after frame 2 of 4" in result.output
    assert clipmaker.count_frames(out)[0] == 4 and not work_folder(out).exists()
