"""A small real HTTP server that speaks the Telegram Bot API, for end-to-end tests and the load bench.

The real python-telegram-bot application is pointed at it with ``base_url``; requests arrive
as ``POST /bot<TOKEN>/<method>``, form-encoded, non-string fields as JSON strings.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import defaultdict, deque

from aiohttp import web

BOT_ID = 777000
BOT_USERNAME = "newsqa_test_bot"


class FakeBotApi:
    def __init__(self, token: str):
        self.token = token
        self.updates: list[dict] = []
        self.calls: list[tuple[str, dict]] = []
        self.call_times: list[float] = []  # time.perf_counter() of each call, for the load bench
        self.failures: dict[str, deque[int]] = defaultdict(deque)
        self.webhook: tuple[str, str] | None = None  # (url, secret token) once setWebhook was called
        self.webhook_statuses: list[int] = []  # the bot's HTTP answers to the updates posted to it
        self.files: dict[str, bytes] = {}  # file_id -> content, served by getFile and /file/bot<token>/…
        self.downloads: list[str] = []  # file paths the bot downloaded
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(5000)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> "FakeBotApi":
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            app = web.Application()
            app.router.add_post("/bot{token}/{method}", self._handle)
            app.router.add_get("/file/bot{token}/{path:.+}", self._download)
            self._runner = web.AppRunner(app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            self._loop.run_until_complete(site.start())
            port = site._server.sockets[0].getsockname()[1]
            self.url = f"http://127.0.0.1:{port}"
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # --- what tests do --------------------------------------------------------------------
    def push_message(self, chat_id: int, text: str | None = None, *, user_id: int | None = None,
                     chat_type: str = "private", entities: list[dict] | None = None,
                     reply_to: dict | None = None, sticker: bool = False) -> dict:
        user_id = user_id or chat_id
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": chat_type, **({"title": "group"} if chat_type != "private" else {"first_name": "U"})},
            "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"},
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                command = text.split()[0]
                entities = [{"type": "bot_command", "offset": 0, "length": len(command)}] + (entities or [])
            if entities:
                message["entities"] = entities
        if sticker:
            message["sticker"] = {"file_id": "s1", "file_unique_id": "s1", "type": "regular",
                                  "width": 512, "height": 512, "is_animated": False, "is_video": False}
        if reply_to:
            message["reply_to_message"] = reply_to
        self._add_update({"message": message})
        return message

    def push_document(self, chat_id: int, name: str, content: bytes, *, user_id: int | None = None,
                      mime_type: str = "application/octet-stream", chat_type: str = "private") -> dict:
        """An admin (or anyone) sending a file: the bot sees a document, fetches it with getFile."""
        file_id = f"doc{len(self.files) + 1}"
        self.files[file_id] = content
        user_id = user_id or chat_id
        message = {
            "message_id": next(self._message_ids), "date": int(time.time()),
            "chat": {"id": chat_id, "type": chat_type, **({"title": "group"} if chat_type != "private" else {"first_name": "U"})},
            "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"},
            "document": {"file_id": file_id, "file_unique_id": file_id + "u", "file_name": name,
                         "mime_type": mime_type, "file_size": len(content)},
        }
        self._add_update({"message": message})
        return message

    def post_to_webhook(self, body: dict, secret: str) -> int:
        """An update POSTed with a given secret (say, a stranger's guess): the HTTP status."""
        url, _ = self.webhook
        update = {"update_id": next(self._update_ids), **body}
        asyncio.run_coroutine_threadsafe(self._post_update(update, url, secret), self._loop).result(10)
        return self.webhook_statuses[-1]

    def push_callback(self, user_id: int, message: dict, data: str) -> None:
        self._add_update({"callback_query": {
            "id": str(next(self._message_ids)), "from": {"id": user_id, "is_bot": False, "first_name": "u"},
            "chat_instance": "ci", "data": data, "message": message,
        }})

    def fail_next(self, method: str, *statuses: int) -> None:
        self.failures[method].extend(statuses)

    def calls_of(self, method: str) -> list[dict]:
        with self._lock:
            return [params for name, params in self.calls if name == method]

    def sent_to(self, chat_id: int) -> list[dict]:
        return [p for p in self.calls_of("sendMessage") if int(p["chat_id"]) == chat_id]

    def wait_for(self, predicate, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(0.05)
        raise AssertionError("the bot did not do what was expected in time")

    # --- the Bot API ----------------------------------------------------------------------
    def _add_update(self, body: dict) -> None:
        with self._lock:
            update = {"update_id": next(self._update_ids), **body}
            webhook = self.webhook
            if webhook is None:
                self.updates.append(update)
        if webhook is not None:  # as Telegram does once a webhook is set: POST it there
            asyncio.run_coroutine_threadsafe(self._post_update(update, *webhook), self._loop).result(10)

    async def _post_update(self, update: dict, url: str, secret: str) -> None:
        import aiohttp

        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json=update, headers=headers) as response:
                self.webhook_statuses.append(response.status)

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params = dict(await request.post()) if request.can_read_body else {}
        if request.content_type == "application/json":
            params = await request.json()
        with self._lock:
            self.calls.append((method, params))
            self.call_times.append(time.perf_counter())
            status = self.failures[method].popleft() if self.failures[method] else None
        if status == 429:
            return web.json_response({"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                                      "parameters": {"retry_after": 1}}, status=429)
        if status:
            return web.json_response({"ok": False, "error_code": status, "description": "Internal Server Error"}, status=status)
        if method == "getUpdates":
            if self.webhook is not None:
                return web.json_response({"ok": False, "error_code": 409, "description":
                                          "Conflict: can't use getUpdates method while webhook is active"}, status=409)
            return web.json_response({"ok": True, "result": await self._get_updates(params)})
        if method == "setWebhook":
            self.webhook = (str(params["url"]), str(params.get("secret_token") or ""))
        elif method == "deleteWebhook":
            self.webhook = None
        return web.json_response({"ok": True, "result": self._result(method, params)})

    async def _get_updates(self, params: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 1.0)
        while True:
            with self._lock:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
                pending = list(self.updates)
            if pending or time.monotonic() >= deadline:
                return pending
            await asyncio.sleep(0.02)

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        file_id = path.rsplit("/", 1)[-1]
        if file_id not in self.files:
            return web.Response(status=404)
        with self._lock:
            self.downloads.append(path)
        return web.Response(body=self.files[file_id])

    def _result(self, method: str, params: dict):
        bot = {"id": BOT_ID, "is_bot": True, "first_name": "News", "username": BOT_USERNAME}
        if method == "getMe":
            return {**bot, "can_join_groups": True, "can_read_all_group_messages": False,
                    "supports_inline_queries": False}
        if method == "getFile":
            file_id = str(params.get("file_id"))
            return {"file_id": file_id, "file_unique_id": file_id + "u", "file_size": len(self.files.get(file_id, b"")),
                    "file_path": f"documents/{file_id}"}
        if method in ("sendMessage", "editMessageText"):
            chat_id = int(params.get("chat_id") or 0)
            message = {
                "message_id": int(params.get("message_id") or next(self._message_ids)),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group", "first_name": "U"},
                "from": bot,
                "text": params.get("text", ""),
            }
            if params.get("reply_markup"):
                markup = params["reply_markup"]
                message["reply_markup"] = json.loads(markup) if isinstance(markup, str) else markup
            return message
        return True
