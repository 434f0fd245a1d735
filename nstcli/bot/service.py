"""The bot side: stored updates → conversation → actions, exactly once across crashes.

Each update is handled in two durable steps. *Decide*: classify it (downloading an
image), run the conversation, and commit the user's new state together with the list
of actions it owes (replies, a job to submit...). *Perform*: carry the actions out, then
mark the update done. A restart replays every update not done, in each user's order: a
decided one only performs its actions again (so at most the reply in flight at the crash
is repeated), an undecided one is decided for the first time. Job tracking (sync,
re-queue, resume, watchdog) is `JobTracker`'s; intake is `nstcli.bot.intake`'s.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid

from nstcli.bot import buttons, choices, texts
from nstcli.bot.actions import Actions, decode, encode
from nstcli.bot.config import BotConfig
from nstcli.bot.conversation import (
    Answer,
    Event,
    FollowUpPressed,
    Menu,
    Pressed,
    Reply,
    Submit,
    handle,
)
from nstcli.bot.i18n import pick, translator
from nstcli.bot.intake import Incoming, Lanes, MediaChecks, parse, user_of
from nstcli.bot.models import JobSpec, UserState
from nstcli.bot.store import InboxEntry

log = logging.getLogger("nstcli.bot.service")

SIZES = (256, 384, 512, 768, 1024)
STEPS = (50, 100, 200, 300)


def build_menu(config: BotConfig, offered: list[str]) -> Menu:
    """What this bot offers: `offered` backbones (and choices that are not backbones)."""
    sizes = sorted({s for s in SIZES if s < config.size} | {config.size})[-4:]
    chosen = {config.steps} if config.steps is not None else set()
    steps = sorted({s for s in STEPS if s <= max(300, config.steps or 0)} | chosen)
    kinds = choices.ChoiceKind
    networks = [c for c in choices.of_kind(kinds.NETWORK) if c.key in offered]
    options = [
        c for c in choices.of_kind(kinds.OPTION) if c.key != choices.UPSCALE or config.upscale
    ]
    return Menu(
        networks=tuple((c.key, c.label) for c in networks),
        jobs=tuple((c.key, c.label, c.row) for c in choices.of_kind(kinds.JOB)),
        options=tuple((c.key, c.label) for c in options),
        sizes=tuple(sizes),
        steps=tuple(steps),
        default_size=config.size,
        default_steps=config.steps,
        backbone_steps=choices.default_steps(offered),
        preserve_color=True,
        preview=config.preview,
        keep_inputs=config.keep_seconds,
        upscale_option=choices.UPSCALE if config.upscale else None,
        upscale_result=choices.UPSCALE_RESULT if config.upscale else None,
    )


class BotService:
    def __init__(self, actions: Actions) -> None:
        """`actions` carries out what the conversation decides, and holds the bot's parts."""
        self.actions = actions
        self.config, self.store = actions.config, actions.store
        self.tracker, self.menu = actions.tracker, actions.menu
        self.checks = MediaChecks(actions.files, actions.tg.limits, self.config.clips)
        self._lanes: Lanes | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> int:
        """Start the lanes and the watchdog; replay stored updates not yet done."""
        self.actions.gallery.prepare()
        self._lanes = Lanes(self.config.update_threads, self.handle)
        pending = self.store.pending_updates()
        if pending:
            log.warning("replaying %d update(s) not handled before a restart", len(pending))
        for entry in pending:
            self.dispatch(entry)
        self.tracker.start()
        return len(pending)

    def stop(self) -> None:
        if self._lanes is not None:
            self._lanes.close()
        self.tracker.stop()

    def receive(self, raw: list[dict]) -> list[InboxEntry]:
        """Called from the polling thread before the batch is confirmed: store it."""
        return self.store.receive([(item["update_id"], user_of(item), item) for item in raw])

    def dispatch(self, entry: InboxEntry) -> None:
        """Route by user (in order per user) and return at once."""
        if self._lanes is None:
            self.handle(entry)
        else:
            self._lanes.put(entry.user_id, entry)

    # -- one update ----------------------------------------------------------------------
    def handle(self, entry: InboxEntry) -> None:
        try:
            incoming = parse(entry.payload)
            if incoming is None:
                return
            if entry.actions is None:
                actions = self._decide(entry.update_id, incoming)
            else:
                actions = decode(entry.actions)
                log.info("update %s: performing its stored actions again", entry.update_id)
            language = self.language(incoming)  # as this update may just have set it
            for action in actions:
                self.actions.perform(incoming, action, language, translator(language))
        finally:
            # Also after an error (Telegram already retried, or a bug): replaying it at the
            # next start would only repeat the failure, or answer hours late. Only a
            # crash leaves an update undone.
            self.store.done(entry.update_id)

    def language(self, incoming: Incoming, state: UserState | None = None) -> str:
        """The user's choice in /settings, else their Telegram language (ru or en)."""
        state = self.store.user(incoming.user_id) if state is None else state
        return state.settings.language or pick(incoming.language_code)

    def _decide(self, update_id: int, incoming: Incoming) -> list:
        """Run the conversation and commit its new state with the actions it owes."""
        state = self.store.user(incoming.user_id)
        _ = translator(self.language(incoming, state))
        allowed = self.config.allow_users
        if allowed and incoming.user_id not in allowed:
            actions: list = [Answer()] if incoming.callback is not None else []
            with self.store.transaction():
                if self.store.refuse_once(incoming.user_id):
                    actions.append(Reply(_(texts.REFUSED)))
                self.store.decided(update_id, encode(actions))
            return actions
        state = self._expire_last(state)
        event = self.checks.event(incoming, self.menu.size_of(state.settings), _)
        event = self._resolve(event, incoming.user_id)
        outcome = handle(state, event, self.menu, lambda: uuid.uuid4().hex[:8], _)
        actions = [
            dataclasses.replace(a, job_id=uuid.uuid4().hex) if isinstance(a, Submit) else a
            for a in outcome.actions
        ]
        with self.store.transaction():
            if outcome.state != state:
                self.store.save_user(incoming.user_id, incoming.chat_id, outcome.state)
            self.store.decided(update_id, encode(actions))
        return actions

    def _expire_last(self, state: UserState) -> UserState:
        """Forget the last job's photo once its inputs are past keeping."""
        if state.last_job is None:
            return state
        job = self.store.job(state.last_job)
        if job is not None and not self.tracker.expired(job):
            return state
        return dataclasses.replace(state, last=None, last_job=None)

    def _resolve(self, event: Event, user_id: int) -> Event:
        """A result's button with the job it names, if that job is this user's and kept."""
        if not isinstance(event, Pressed):
            return event
        data = buttons.decode(event.data)
        if data is None or data.kind not in (buttons.Kind.FOLLOW_UP, buttons.Kind.RERUN):
            return event
        return FollowUpPressed(data, self.base_job(data.ref, user_id))

    def base_job(self, job_id: str, user_id: int) -> JobSpec | None:
        """A finished job whose results may still be followed up (None: gone or forged)."""
        job = self.store.job(job_id)
        if job is None or job.spec.user_id != user_id:
            return None
        job = self.tracker.sync(job)
        if job.status != "done" or self.tracker.expired(job):
            return None
        return job.spec
