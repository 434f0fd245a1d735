"""Running one job on a worker: claim → fetch inputs → engine → deliver → report.

The same code runs in the bot's own process (in-process huey workers) and in
`nst worker` on other machines; it only talks to Telegram and to the queue's key-value
store, never to the bot's SQLite file.

Exactly-once: a worker claims (job, attempt) with set-if-empty, skips attempts the bot
has superseded and jobs already reported done, and reports "done" right after the result
is delivered. Cancellation is cooperative: the engine's `should_stop` checks the
/cancel flag, a newer attempt, and process shutdown (which leaves the job "interrupted"
for the bot to re-queue).
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from nstcli.bot import choices, execute, texts
from nstcli.bot.choices import RunContext
from nstcli.bot.files import FileCache
from nstcli.bot.i18n import Gettext, translator
from nstcli.bot.imaging import encode
from nstcli.bot.masking import describe
from nstcli.bot.models import Delivered, JobSpec
from nstcli.bot.paintings import GALLERY, open_painting
from nstcli.bot.taskqueue import JobSignals
from nstcli.bot.telegram_io import ResultTooBig, StatusMessage, TelegramError, TelegramIO
from nstcli.engine.backbones import BACKBONES
from nstcli.engine.errors import Cancelled, NstError
from nstcli.engine.images import load_image

log = logging.getLogger("nstcli.bot.jobs")


#: Fraction of a job's progress bar given to option passes such as "+ ×4 upscale".
OPTION_PROGRESS_SHARE = 0.1


def apply_options(
    applied: list[choices.Choice],
    outputs: list[choices.ResultPicture],
    ctx: RunContext,
    progress: Callable[[float, str], None],
    start: float,
) -> list[choices.ResultPicture]:
    """Run each option on each result in turn, its progress mapped into [start, 1]."""
    passes = len(applied) * len(outputs)
    done = 0
    for option in applied:
        assert option.apply is not None
        rendered = []
        for output in outputs:
            low = start + (1 - start) * done / passes
            high = start + (1 - start) * (done + 1) / passes

            def mapped(fraction: float, what: str, low: float = low, high: float = high) -> None:
                progress(low + (high - low) * fraction, what)

            image = option.apply(output.image, dataclasses.replace(ctx, progress=mapped))
            caption = texts.with_option(translator(ctx.spec.language), output.caption, option.label)
            rendered.append(choices.ResultPicture(image, caption))
            done += 1
        outputs = rendered
    return outputs


@dataclass(frozen=True)
class ResultClip:
    """A stylised clip a job sends back: as an animation (loops, silent) or a video."""

    clip: execute.ClipOutput
    caption: str
    animation: bool


class Superseded(Exception):
    """The bot re-queued this job under a newer attempt; this run must not deliver."""


@dataclass
class JobRunner:
    tg: TelegramIO
    signals: JobSignals
    files: FileCache
    shutdown: threading.Event
    progress_interval: float = 3.0
    heartbeat: float = 2.0
    pretrained: bool = True
    threads: int | None = None
    #: Called with each report a running job stores (the process heartbeat's `jobs` part).
    alive: Callable[[], None] | None = None
    #: Seconds this runner spent showing previews (for measuring their cost).
    preview_seconds: float = 0.0
    #: Leave inputs (and keep a lossless copy of each result) for follow-ups: only a
    #: worker inside the bot, whose tracker deletes them when they expire. Elsewhere
    #: (`nst worker`) they are deleted on delivery and fetched again if ever needed.
    keep_inputs: bool = False

    def __call__(self, payload: dict[str, Any]) -> None:
        spec = JobSpec.from_dict(payload)
        try:
            self.run(spec)
        except Exception:  # never let one job take the worker thread down
            log.exception("job %s crashed outside its own error handling", spec.job_id)

    def run(self, spec: JobSpec) -> None:
        signals = self.signals
        current = signals.attempt(spec.job_id)
        if current is not None and current > spec.attempt:
            log.info("job %s attempt %s superseded; skipping", spec.job_id, spec.attempt)
            return
        if not signals.claim(spec.job_id, spec.attempt):
            log.info("job %s attempt %s already claimed; skipping", spec.job_id, spec.attempt)
            return
        state = signals.state(spec.job_id) or {}
        if state.get("status") in ("done", "failed", "cancelled"):
            log.info("job %s already %s; skipping", spec.job_id, state["status"])
            return
        status = StatusMessage(
            self.tg,
            spec.chat_id,
            spec.status_message_id,
            self.progress_interval,
            photo=spec.preview,
        )
        _ = translator(spec.language)
        if signals.cancel_requested(spec.job_id):
            signals.report(spec.job_id, spec.attempt, "cancelled")
            status.update(_(texts.CANCELLED_STATUS), force=True)
            if signals.claim_cancelled_reply(spec.job_id):  # unless the bot has said it
                self._tell(spec, _(texts.CANCELLED))
            return
        beat = Heartbeat(signals, spec, self.heartbeat, self.alive)
        try:
            self._execute(spec, status, beat)
        finally:
            beat.close()
            self.preview_seconds += status.preview_seconds

    def _execute(self, spec: JobSpec, status: StatusMessage, beat: Heartbeat) -> None:
        started = beat.started
        _ = translator(spec.language)
        choice = choices.CHOICES.get(spec.choice)
        title = _(choice.label) if choice else spec.choice
        signals = self.signals
        last_check = [0.0, False]

        def should_stop() -> bool:
            if self.shutdown.is_set():
                return True
            now = time.monotonic()
            if now - last_check[0] >= 0.25:  # one key-value read per quarter second at most
                last_check[0] = now
                current = signals.attempt(spec.job_id)
                last_check[1] = signals.cancel_requested(spec.job_id) or (
                    current is not None and current > spec.attempt
                )
            return bool(last_check[1])

        shown = [title, 0.0]  # what the status says now: (title, fraction)

        def progress(fraction: float, what: str) -> None:
            shown[:] = [_(what), fraction]
            status.update(running_text(_, _(what), fraction, time.time() - started))

        def preview(image: Image.Image) -> None:
            status.preview(
                image, running_text(_, str(shown[0]), float(shown[1]), time.time() - started)
            )

        try:
            if choice is None or choice.run is None:
                raise NstError(f"this server doesn't offer '{spec.choice}'", code="not_offered")
            status.update(texts.running(_, title, 0, None), force=True)
            if spec.content.is_clip:
                outputs: list[Any] = self._clip_outputs(spec, choice, status, should_stop, started)
            else:
                shows = preview if status.photo else None
                outputs = self._image_outputs(spec, choice, progress, shows, should_stop)
            if should_stop():
                raise Cancelled("stopped before delivery")
            delivered = [self._deliver(spec, output) for output in outputs]
            beat.final("done", started=started, results=[d.to_dict() for d in delivered])
            status.update(texts.done(_, title, time.time() - started), force=True)
            self._release(spec)
            if signals.cancel_requested(spec.job_id) and signals.claim_late_cancel(spec.job_id):
                # /cancel came after the last check: the user was told "Stopping…"
                self._tell(spec, _(texts.TOO_LATE_TO_CANCEL))
        except Cancelled:
            self._stopped(spec, status, beat)
        except NstError as error:
            self._failed(spec, status, beat, _reason(_, error), str(error))
        except ResultTooBig as error:
            reason = texts.result_too_big(_, error.size, error.limit)
            self._failed(spec, status, beat, reason, str(error))
        except TelegramError as error:
            self._failed(spec, status, beat, _(texts.TELEGRAM_FAILED), str(error))
        except Exception as error:
            log.exception("job %s failed", spec.job_id)
            self._failed(spec, status, beat, _(texts.INTERNAL_ERROR), describe(error))

    def _style_of(self, spec: JobSpec) -> Image.Image:
        """The job's style image: a gallery painting is package data, not a download."""
        if spec.style.kind == GALLERY:
            return open_painting(spec.style)
        return load_image(self.files.fetch(spec.style))

    def _image_outputs(
        self,
        spec: JobSpec,
        choice: choices.Choice,
        progress: Callable[[float, str], None],
        preview: Callable[[Image.Image], None] | None,
        should_stop: Callable[[], bool],
    ) -> list[choices.ResultPicture]:
        """A still job: the choice's runner, then each option on each result."""
        assert choice.run is not None
        content = load_image(self.files.fetch(spec.content))
        style = self._style_of(spec)
        source = load_image(self.files.fetch(spec.source)) if spec.source else None
        applied = [
            option
            for option in (choices.CHOICES.get(key) for key in spec.options)
            if option is not None and option.apply is not None
        ]
        # The options' share of the progress bar (upscaling a result is quick next
        # to optimising it), so the percentage and ETA never run backwards.
        run_share = 1.0 - OPTION_PROGRESS_SHARE * bool(applied)
        ctx = RunContext(
            content=content,
            style=style,
            source=source,
            spec=spec,
            progress=lambda fraction, what: progress(fraction * run_share, what),
            should_stop=should_stop,
            pretrained=self.pretrained,
            threads=self.threads,
            preview=preview,
        )
        return apply_options(applied, choice.run(ctx), ctx, progress, run_share)

    def _clip_outputs(
        self,
        spec: JobSpec,
        choice: choices.Choice,
        status: StatusMessage,
        should_stop: Callable[[], bool],
        started: float,
    ) -> list[ResultClip]:
        """A clip job: the chosen network over every frame, with temporal consistency;
        the status shows frames done (and the latest frame, with the preview on)."""
        _ = translator(spec.language)
        if choice.kind is not choices.ChoiceKind.NETWORK:
            raise NstError(f"'{spec.choice}' does not run on clips", code="not_offered")
        title = _(choice.label)
        style = self._style_of(spec)
        clip = self.files.fetch(spec.content)
        begun: list[float] = []  # the fraction already done when this attempt began

        def on_frame(done: int, frames: int, fraction: float, image: Image.Image | None) -> None:
            if not begun:
                begun.append(fraction)
            elapsed, fresh = time.time() - started, fraction - begun[0]
            eta = elapsed / fresh * (1 - fraction) if fresh > 0.02 else None
            text = texts.clip_running(_, title, done, frames, eta)
            if image is not None and status.photo:
                status.preview(image, text)
            else:
                status.update(text)

        output = execute.stylize_clip(
            clip,
            style,
            choice.key,
            spec.size,
            spec.steps,
            self.clip_work(spec),
            fps=spec.content.fps or 12.0,
            max_frames=spec.content.frames or 1,
            audio=spec.content.kind != "animation",  # a GIF has none; a video keeps its own
            preserve_color=spec.preserve_color,
            strength=spec.strength,
            pretrained=self.pretrained,
            threads=self.threads,
            on_frame=on_frame,
            should_stop=should_stop,
        )
        if output.resumed:
            log.info("job %s resumed after frame %d", spec.job_id, output.resumed)
        what = BACKBONES[choice.key].facts.captioned_title
        caption = texts.clip_caption(_, what, spec.size, output.frames, output.fps)
        if spec.strength is not None:
            caption = texts.with_strength(_, caption, spec.strength)
        # A GIF (Telegram's MP4 animation, or a GIF file) goes back as an animation.
        animation = spec.content.kind == "animation" or output.from_animation
        return [ResultClip(output, caption, animation)]

    def clip_work(self, spec: JobSpec) -> Path:
        """Where a clip job's finished frames wait (kept across restarts for resuming)."""
        return self.files.folder.parent / "clips" / spec.job_id

    def _stopped(self, spec: JobSpec, status: StatusMessage, beat: Heartbeat) -> None:
        current = self.signals.attempt(spec.job_id)
        if current is not None and current > spec.attempt:
            log.info("job %s attempt %s superseded mid-run", spec.job_id, spec.attempt)
            return
        _ = translator(spec.language)
        if self.signals.cancel_requested(spec.job_id):
            beat.final("cancelled")
            status.update(_(texts.CANCELLED_STATUS), force=True)
            self._release(spec)
            if self.signals.claim_cancelled_reply(spec.job_id):  # said once, by one side
                self._tell(spec, _(texts.CANCELLED))  # as a queued job's /cancel ends
            return
        # Shutdown: leave the inputs, say so, and let the bot re-queue it on restart.
        beat.final("interrupted")
        status.update(_(texts.RESUMING_STATUS), force=True)

    def _failed(
        self, spec: JobSpec, status: StatusMessage, beat: Heartbeat, reason: str, detail: str
    ) -> None:
        log.warning("job %s failed: %s", spec.job_id, detail)
        _ = translator(spec.language)
        beat.final("failed", error=detail[:500])
        status.update(_(texts.FAILED_STATUS), force=True)
        self._tell(spec, texts.apology(_, reason))
        self._release(spec)

    def _deliver(self, spec: JobSpec, output: choices.ResultPicture | ResultClip) -> Delivered:
        """Send one result with the job's follow-up buttons: a clip as an animation or a
        video, a picture as a photo (or document), keeping a lossless copy of a picture
        where its ×4 follow-up will look (under the sent file's id)."""
        if isinstance(output, ResultClip):
            clip = output.clip
            return self.tg.send_clip(
                spec.chat_id,
                clip.path,
                output.caption,
                output.animation,
                (clip.width, clip.height),
                spec.keyboard or None,
            )
        sent = self.tg.send_image(
            spec.chat_id, output.image, output.caption, spec.full_quality, spec.keyboard or None
        )
        if self.keep_inputs and spec.keyboard:
            self.files.store(sent.ref, encode(output.image, "PNG"))
        return sent

    def _release(self, spec: JobSpec) -> None:
        """Delete this job's inputs now, unless they are kept for follow-ups."""
        if not self.keep_inputs:
            self.files.delete(*spec.inputs())
        if spec.content.is_clip:  # its frames are of no more use once the job is over
            shutil.rmtree(self.clip_work(spec), ignore_errors=True)

    def _tell(self, spec: JobSpec, text: str) -> None:
        """A message of its own about the job (best effort: the job's state is final)."""
        try:
            self.tg.send_text(spec.chat_id, text)
        except TelegramError as error:
            log.warning("could not tell chat %s about job %s: %s", spec.chat_id, spec.job_id, error)


class Heartbeat:
    """Reports "running" now and every `interval` seconds until `final()`.

    `final()` writes the job's last state under the same lock the beat uses, so a beat
    that was already under way can never overwrite "done" with "running".
    """

    def __init__(
        self,
        signals: JobSignals,
        spec: JobSpec,
        interval: float,
        alive: Callable[[], None] | None = None,
    ) -> None:
        self.signals, self.spec, self.interval = signals, spec, interval
        self.alive = alive
        self.started = time.time()
        self._lock = threading.Lock()
        self._final = False
        self._stop = threading.Event()
        signals.report(spec.job_id, spec.attempt, "running", started=self.started)
        self._thread = threading.Thread(target=self._run, name="nst-heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                if self._final:
                    return
                try:
                    self.signals.report(
                        self.spec.job_id, self.spec.attempt, "running", started=self.started
                    )
                    if self.alive is not None:
                        self.alive()
                except Exception as error:  # the queue briefly unreachable is not fatal
                    log.warning("heartbeat for %s failed: %s", self.spec.job_id, describe(error))

    def final(self, status: str, **extra: Any) -> None:
        with self._lock:
            self._final = True
            self.signals.report(self.spec.job_id, self.spec.attempt, status, **extra)
        self._stop.set()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def running_text(_: Gettext, what: str, fraction: float, elapsed: float) -> str:
    """Progress with an ETA from the pixel-weighted fraction done (see `StepRecord.work_done`)."""
    percent = max(0, min(100, int(fraction * 100)))
    eta = elapsed / fraction * (1 - fraction) if fraction > 0.02 else None
    return texts.running(_, what, percent, eta)


def _reason(_: Gettext, error: NstError) -> str:
    """The engine's refusal in the user's words (its English text is for the log)."""
    return texts.engine_reason(_, error.code, error.details)
