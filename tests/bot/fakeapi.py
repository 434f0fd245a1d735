"""A fake Telegram Bot API server on 127.0.0.1 for driving the real bot offline.

It speaks telebot's wire format (parameters in the query string, files as multipart),
implements what the bot uses — getMe, getUpdates (long poll, offsets), sendMessage,
sendPhoto/sendDocument/sendAnimation/sendVideo, getFile + file download,
editMessageText/Caption/Media/ReplyMarkup,
answerCallbackQuery, sendChatAction, deleteMessage, setMyCommands — records every call,
and can be told to fail the next calls of a method (429 with retry_after, 409, 5xx, or a
slow answer).

Users are simulated from the test: `user_text`, `user_photo`, `user_document`,
`user_video` (videos, video messages, GIF animations), `user_press` put updates in the
queue the bot polls; private chats, so chat id == user id.
`languages[user]` sets a user's Telegram `language_code`.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import faulthandler
import io
import itertools
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from PIL import Image

TOKEN = "123456:TEST-fake-secret-Zq9"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Style", "username": "nst_test_bot"}
MAX_DOWNLOAD = 20 * 1024 * 1024


@dataclass
class Call:
    method: str
    params: dict[str, str]
    files: dict[str, bytes] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)
    status: int = 200
    #: The id of the message a send* call created.
    message_id: int | None = None

    @property
    def chat(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None


@dataclass
class Failure:
    code: int
    retry_after: int | None = None
    delay: float = 0.0
    description: str | None = None


class FakeBotAPI:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.identical_edits: list[Call] = []
        self._files: dict[str, tuple[bytes | None, int, str]] = {}
        self._updates: list[dict[str, Any]] = []
        self._failures: dict[str, list[Failure]] = {}
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._file_ids = itertools.count(1)
        self._lock = threading.Condition()
        #: (chat, message id) → the JPEG frames editMessageMedia put in that message.
        self.previews: dict[tuple[int, int], list[bytes]] = {}
        #: Every update id handed to the bot's queue, in order.
        self.pushed: list[int] = []
        #: user id → Telegram language_code sent with that user's updates.
        self.languages: dict[int, str] = {}
        #: While set, getUpdates answers at once instead of holding the long poll: a bot
        #: being shut down then stops within a request, not a whole poll timeout.
        self._prompt_polls = False
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeBotAPI:
        self._thread.start()
        return self

    def answer_polls_at_once(self, prompt: bool = True) -> None:
        """Release the bot's waiting long poll, and hold none (`prompt`) or hold them again.

        Only the wait changes (updates are handed out as ever); the in-thread bots' fixture
        turns it on to stop a bot and off to start one."""
        with self._lock:
            self._prompt_polls = prompt
            self._lock.notify_all()

    def stop(self) -> None:
        with self._lock:
            self._lock.notify_all()
        self._server.shutdown()
        self._server.server_close()

    # -- simulated users -----------------------------------------------------------------
    def _push(self, payload: dict[str, Any]) -> int:
        with self._lock:
            update_id = next(self._update_ids)
            self.pushed.append(update_id)
            self._updates.append({"update_id": update_id, **payload})
            self._lock.notify_all()
        return update_id

    def _user(self, user: int) -> dict[str, Any]:
        sender: dict[str, Any] = {"id": user, "is_bot": False, "first_name": f"U{user}"}
        if user in self.languages:
            sender["language_code"] = self.languages[user]
        return sender

    def _message(self, user: int, **content: Any) -> dict[str, Any]:
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": user, "type": "private", "first_name": f"U{user}"},
            "from": self._user(user),
            **content,
        }

    def add_file(self, data: bytes | None, size: int | None = None) -> tuple[str, str]:
        """Register file bytes (or only a claimed size) → (file_id, file_unique_id)."""
        number = next(self._file_ids)
        file_id, unique = f"file-{number}", f"uniq{number}"
        with self._lock:
            self._files[file_id] = (data, size if size is not None else len(data or b""), unique)
        return file_id, unique

    def user_text(self, user: int, text: str) -> int:
        return self._push({"message": self._message(user, text=text)})

    def user_photo(self, user: int, image: Image.Image, album: str | None = None) -> int:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=95)
        file_id, unique = self.add_file(buffer.getvalue())
        small_id, small_unique = self.add_file(buffer.getvalue())
        sizes = [
            {"file_id": small_id, "file_unique_id": small_unique, "width": 8, "height": 8},
            {
                "file_id": file_id,
                "file_unique_id": unique,
                "width": image.width,
                "height": image.height,
                "file_size": len(buffer.getvalue()),
            },
        ]
        extra = {"media_group_id": album} if album else {}
        return self._push({"message": self._message(user, photo=sizes, **extra)})

    def user_document(
        self,
        user: int,
        data: bytes | None,
        mime: str | None,
        name: str,
        size: int | None = None,
        animation: bool = False,
    ) -> int:
        file_id, unique = self.add_file(data, size)
        document = {"file_id": file_id, "file_unique_id": unique, "file_name": name}
        if mime:
            document["mime_type"] = mime
        document["file_size"] = size if size is not None else len(data or b"")
        content: dict[str, Any] = {"document": document}
        if animation:
            content["animation"] = {**document, "width": 8, "height": 8, "duration": 1}
        return self._push({"message": self._message(user, **content)})

    def user_sticker(self, user: int) -> int:
        file_id, unique = self.add_file(b"sticker")
        sticker = {
            "file_id": file_id,
            "file_unique_id": unique,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        return self._push({"message": self._message(user, sticker=sticker)})

    def user_video(
        self,
        user: int,
        data: bytes | None = b"video",
        duration: int = 1,
        kind: str = "video",
        size: int | None = None,
    ) -> int:
        """A clip as Telegram delivers it: `kind` "video", "video_note" (square, `length`)
        or "animation" (a GIF, which Telegram turns into a silent MP4; its message also
        carries a `document`, as the real API's does)."""
        file_id, unique = self.add_file(data, size)
        item: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": unique,
            "duration": duration,
            "file_size": size if size is not None else len(data or b""),
        }
        if kind == "video_note":
            item["length"] = 64
        else:
            item.update(width=64, height=48, mime_type="video/mp4")
        content: dict[str, Any] = {kind: item}
        if kind == "animation":
            content["document"] = {**item, "file_name": "clip.gif.mp4"}
        return self._push({"message": self._message(user, **content)})

    def user_press(self, user: int, message_id: int, data: str) -> int:
        message = self.messages.get((user, message_id), {"text": ""})
        callback = {
            "id": f"cb-{next(self._update_ids)}",
            "from": self._user(user),
            "chat_instance": f"ci-{user}",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": user, "type": "private"},
                "text": message.get("text", ""),
            },
        }
        return self._push({"callback_query": callback})

    # -- fault injection -----------------------------------------------------------------
    def fail(
        self,
        method: str,
        code: int,
        times: int = 1,
        retry_after: int | None = None,
        delay: float = 0.0,
        description: str | None = None,
    ) -> None:
        with self._lock:
            self._failures.setdefault(method, []).extend(
                Failure(code, retry_after, delay, description) for _ in range(times)
            )

    # -- inspection ----------------------------------------------------------------------
    def sent(self, method: str, chat: int | None = None, ok_only: bool = True) -> list[Call]:
        with self._lock:
            return [
                c
                for c in self.calls
                if c.method == method
                and (chat is None or c.chat == chat)
                and (not ok_only or c.status == 200)
            ]

    def texts_to(self, chat: int) -> list[str]:
        return [c.params.get("text", "") for c in self.sent("sendMessage", chat)]

    def results_to(self, chat: int) -> list[Call]:
        """Delivered results: photos and documents (a full-quality copy counts too), not
        the status photos that show previews (they start as "⏳ ... queued") nor the
        gallery's sheet (its buttons pick paintings)."""
        photos = [
            c
            for c in self.sent("sendPhoto", chat)
            if not c.params.get("caption", "").startswith("⏳") and not _is_gallery(c)
        ]
        clips = self.sent("sendAnimation", chat) + self.sent("sendVideo", chat)
        return photos + self.sent("sendDocument", chat) + clips

    def galleries(self, chat: int) -> list[Call]:
        """The gallery sheets sent to `chat` (photos whose buttons pick paintings)."""
        return [c for c in self.sent("sendPhoto", chat) if _is_gallery(c)]

    def photo_bytes(self, call: Call) -> bytes | None:
        """The picture a sendPhoto call sent: its upload, or the file its file id names."""
        if "photo" in call.files:
            return call.files["photo"]
        with self._lock:
            entry = self._files.get(call.params.get("photo", ""))
        return entry[0] if entry else None

    def status_photos(self, chat: int) -> list[Call]:
        return [
            c for c in self.sent("sendPhoto", chat) if c.params.get("caption", "").startswith("⏳")
        ]

    def buttons(self, chat: int) -> list[tuple[int, str, str]]:
        """(message_id, label, data) of every button currently shown in `chat`."""
        with self._lock:
            found = []
            for (message_chat, message_id), message in sorted(self.messages.items()):
                if message_chat != chat or not message.get("reply_markup"):
                    continue
                for row in message["reply_markup"].get("inline_keyboard", []):
                    for button in row:
                        found.append((message_id, button["text"], button["callback_data"]))
            return found

    def message_text(self, chat: int, message_id: int) -> str:
        """A message's text, or its caption when it is a photo."""
        with self._lock:
            message = self.messages.get((chat, message_id), {})
            return message.get("text", message.get("caption", ""))

    def wait_for(
        self,
        condition: Callable[[], Any],
        timeout: float = 30.0,
        what: str | Callable[[], str] = "condition",
    ) -> Any:
        """`condition()` once it is truthy; on a timeout, an AssertionError saying `what`
        (a callable is read then, so it can report what was there at the end)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.05)
        # Where every thread of the bot stands: a timeout alone does not say what hung.
        # (To the process's own stderr, which pytest captures by descriptor; an in-memory
        # sys.stderr has no descriptor to write to.)
        with contextlib.suppress(AttributeError, OSError, ValueError):
            faulthandler.dump_traceback(sys.__stderr__, all_threads=True)
        pending = f"{self.pending_updates()} update(s) not yet confirmed by the bot"
        described = what() if callable(what) else what
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {described}; {pending}")

    def pending_updates(self) -> int:
        with self._lock:
            return len(self._updates)

    # -- the HTTP side -------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return None

            def do_GET(self) -> None:
                fake._serve(self)

            def do_POST(self) -> None:
                fake._serve(self)

        return Handler

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        parsed = urlparse(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        parts = [unquote(p) for p in parsed.path.split("/") if p]
        if len(parts) >= 3 and parts[0] == "file" and parts[1] == f"bot{self.token}":
            self._download("/".join(parts[2:]), request)
            return
        if len(parts) != 2 or parts[0] != f"bot{self.token}":
            self._reply(
                request, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            )
            return
        method = parts[1]
        params = {k: v[0] for k, v in parse_qs(parsed.query, keep_blank_values=True).items()}
        files = self._parse_body(request.headers.get("Content-Type", ""), body, params)
        call = Call(method, params, files)
        with self._lock:
            failure = self._failures.get(method, []) and self._failures[method].pop(0)
        if failure:
            time.sleep(failure.delay)
            call.status = failure.code
            with self._lock:
                self.calls.append(call)
            default = (
                f"Too Many Requests: retry after {failure.retry_after}"
                if failure.code == 429
                else "Internal Server Error"
            )
            error: dict[str, Any] = {
                "ok": False,
                "error_code": failure.code,
                "description": failure.description or default,
            }
            if failure.retry_after is not None:
                error["parameters"] = {"retry_after": failure.retry_after}
            self._reply(request, failure.code, error)
            return
        if method != "getUpdates":
            with self._lock:
                self.calls.append(call)
        status, result = self._method(method, params, files, call)
        self._reply(request, status, result)

    def _parse_body(
        self, content_type: str, body: bytes, params: dict[str, str]
    ) -> dict[str, bytes]:
        files: dict[str, bytes] = {}
        if content_type.startswith("multipart/"):
            message = email.parser.BytesParser(policy=email.policy.default).parsebytes(
                b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
            )
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                payload = part.get_payload(decode=True) or b""
                if part.get_filename() is not None:
                    files[name] = payload
                else:
                    params[name] = payload.decode()
        elif content_type.startswith("application/json") and body:
            params.update({k: str(v) for k, v in json.loads(body).items()})
        elif content_type.startswith("application/x-www-form-urlencoded") and body:
            params.update({k: v[0] for k, v in parse_qs(body.decode()).items()})
        return files

    def _method(
        self, method: str, params: dict[str, str], files: dict[str, bytes], call: Call
    ) -> tuple[int, dict[str, Any]]:
        ok = lambda result: (200, {"ok": True, "result": result})  # noqa: E731
        if method == "getMe":
            return ok(BOT_USER)
        if method == "getUpdates":
            return ok(self._get_updates(params, call))
        if method in ("sendMessage", "sendPhoto", "sendDocument", "sendAnimation", "sendVideo"):
            chat = int(params["chat_id"])
            message: dict[str, Any] = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": chat, "type": "private"},
                "from": BOT_USER,
            }
            if method == "sendMessage":
                message["text"] = params.get("text", "")
            else:
                field_name = _SEND_FIELDS[method]
                data = files.get(field_name)
                if data is None and params.get(field_name):  # a file sent before, by id
                    with self._lock:
                        known = self._files.get(params[field_name])
                    if known is None:
                        return 400, _error(400, "Bad Request: wrong file identifier")
                    data = known[0] or b""
                data = data or b""
                file_id, unique = self.add_file(data)
                ref = {"file_id": file_id, "file_unique_id": unique, "file_size": len(data)}
                if method == "sendPhoto":
                    message["photo"] = [{**ref, "width": 1, "height": 1}]
                elif method == "sendDocument":
                    message["document"] = ref
                else:  # a clip: its size as sent; an animation is also a document
                    size = {"width": int(params.get("width", 0)),
                            "height": int(params.get("height", 0)), "duration": 1}  # fmt: skip
                    message[field_name] = {**ref, **size}
                    if method == "sendAnimation":
                        message["document"] = ref
                message["caption"] = params.get("caption", "")
            if params.get("reply_markup"):
                message["reply_markup"] = json.loads(params["reply_markup"])
            with self._lock:
                self.messages[(chat, message["message_id"])] = message
            call.message_id = message["message_id"]
            return ok(message)
        if method == "editMessageText":
            key = (int(params["chat_id"]), int(params["message_id"]))
            markup = json.loads(params["reply_markup"]) if params.get("reply_markup") else None
            with self._lock:
                message = self.messages.get(key)
                if message is None:
                    return 400, _error(400, "Bad Request: message to edit not found")
                if (
                    message.get("text") == params.get("text")
                    and message.get("reply_markup") == markup
                ):
                    self.identical_edits.append(call)
                    return 400, _error(400, "Bad Request: message is not modified")
                message["text"] = params.get("text", "")
                message["reply_markup"] = markup
                return ok(message)
        if method == "editMessageReplyMarkup":
            key = (int(params["chat_id"]), int(params["message_id"]))
            markup = json.loads(params["reply_markup"]) if params.get("reply_markup") else None
            with self._lock:
                message = self.messages.get(key)
                if message is None:
                    return 400, _error(400, "Bad Request: message to edit not found")
                if message.get("reply_markup") == markup:
                    self.identical_edits.append(call)
                    return 400, _error(400, "Bad Request: message is not modified")
                message["reply_markup"] = markup
                return ok(message)
        if method in ("editMessageCaption", "editMessageMedia"):
            key = (int(params["chat_id"]), int(params["message_id"]))
            with self._lock:
                message = self.messages.get(key)
                if message is None or "photo" not in message:
                    return 400, _error(400, "Bad Request: message to edit not found")
                if method == "editMessageMedia":
                    media = json.loads(params["media"])
                    attached = media.get("media", "").removeprefix("attach://")
                    if attached not in files:
                        return 400, _error(400, "Bad Request: media not found")
                    self.previews.setdefault(key, []).append(files[attached])
                    message["caption"] = media.get("caption", "")
                    return ok(message)
                if message.get("caption") == params.get("caption"):
                    self.identical_edits.append(call)
                    return 400, _error(400, "Bad Request: message is not modified")
                message["caption"] = params.get("caption", "")
                return ok(message)
        if method == "deleteMessage":
            with self._lock:
                self.messages.pop((int(params["chat_id"]), int(params["message_id"])), None)
            return ok(True)
        if method in ("answerCallbackQuery", "sendChatAction", "deleteWebhook", "setMyCommands"):
            return ok(True)
        if method == "getFile":
            with self._lock:
                entry = self._files.get(params.get("file_id", ""))
            if entry is None:
                return 400, _error(400, "Bad Request: invalid file_id")
            data, size, unique = entry
            if size > MAX_DOWNLOAD:
                return 400, _error(400, "Bad Request: file is too big")
            return ok(
                {
                    "file_id": params["file_id"],
                    "file_unique_id": unique,
                    "file_size": size,
                    "file_path": f"documents/{params['file_id']}.bin",
                }
            )
        return 404, _error(404, f"Not Found: method {method}")

    def _get_updates(self, params: dict[str, str], call: Call) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + timeout
        with self._lock:
            self.calls.append(call)
            while True:
                if offset > 0:  # confirm everything before the offset
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                elif offset < 0:
                    self._updates = self._updates[offset:]
                if self._updates:
                    return self._updates[:limit]
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._prompt_polls:
                    return []
                self._lock.wait(remaining)

    def _download(self, path: str, request: BaseHTTPRequestHandler) -> None:
        file_id = path.rsplit("/", 1)[-1].removesuffix(".bin")
        with self._lock:
            self.calls.append(Call("download", {"file_id": file_id}))
            entry = self._files.get(file_id)
        if entry is None or entry[0] is None:
            self._reply(request, 404, None, raw=b"Not Found")
            return
        self._reply(request, 200, None, raw=entry[0])

    @staticmethod
    def _reply(
        request: BaseHTTPRequestHandler, status: int, payload: Any, raw: bytes | None = None
    ) -> None:
        body = raw if raw is not None else json.dumps(payload).encode()
        try:
            request.send_response(status)
            request.send_header(
                "Content-Type",
                "application/octet-stream" if raw is not None else "application/json",
            )
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


#: The multipart field that carries each send method's file.
_SEND_FIELDS = {
    "sendPhoto": "photo",
    "sendDocument": "document",
    "sendAnimation": "animation",
    "sendVideo": "video",
}


class _QuietServer(ThreadingHTTPServer):
    """A client killed mid-request (kill -9 tests) is expected, not worth a traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None


def _is_gallery(call: Call) -> bool:
    """Whether a sendPhoto call is the gallery sheet (its buttons carry `gal:` data)."""
    return '"gal:' in call.params.get("reply_markup", "")


def _error(code: int, description: str) -> dict[str, Any]:
    return {"ok": False, "error_code": code, "description": description}
