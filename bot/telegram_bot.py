"""``python -m bot telegram``: the Telegram bot (python-telegram-bot 22), a renderer of ``Answer``.

Nothing about retrieval lives here. Buttons carry ids, not state in memory: "More results"
re-asks the question this message replies to, "Full paragraph" names a passage id, so both
survive a restart.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections import defaultdict, deque
from dataclasses import replace
from pathlib import Path

from telegram import (
    BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity, Update,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter, Application, ApplicationBuilder, CallbackQueryHandler, CommandHandler,
    ContextTypes, MessageHandler, filters,
)

from embeddings.config import IndexSettings

from .answer import Answer
from .answering import MAX_HITS, Answerer
from .conversation import Conversations, ask
from .uploads import CorpusFolder, UploadRejected, build_encoder
from .config import SettingError, TelegramSettings
from .telegram_render import answer_html, hits_on_page, page_count, passage_html, split_message

log = logging.getLogger(__name__)

COMMANDS = [
    BotCommand("start", "What this bot does / 机器人简介"),
    BotCommand("help", "How to ask / 使用帮助"),
    BotCommand("ask", "Ask a question / 提问"),
    BotCommand("about", "Articles, model and index / 关于语料"),
    BotCommand("new", "A new conversation / 新的对话"),
    BotCommand("sources", "The corpus files / 语料文件"),
]
NON_TEXT_HINT = "I answer text questions about the articles. 请用文字提问。"
REFUSAL = "Sorry, this bot is not available in this chat. 抱歉，本机器人不在此聊天中提供服务。"
ONLY_ADMINS_ADD = "Sorry, only the bot's admins can add articles; nothing was stored. 抱歉，只有管理员可以添加文章。"
SLOW_DOWN = "Too many questions at once: please wait a minute. 提问太频繁，请稍后再试。"


class TokenRedactor(logging.Filter):
    """Keeps the bot token out of every log line (PTB and httpx put it in request URLs)."""

    def __init__(self, token: str):
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), None
        return True


class RateLimiter:
    """At most ``limit`` questions per user in any 60 seconds."""

    def __init__(self, limit: int, period: float = 60.0):
        self.limit, self.period = limit, period
        self._asked: dict[int, deque[float]] = defaultdict(deque)

    def allow(self, user_id: int) -> bool:
        now = time.monotonic()
        asked = self._asked[user_id]
        while asked and now - asked[0] > self.period:
            asked.popleft()
        if self.limit > 0 and len(asked) >= self.limit:
            return False
        asked.append(now)
        return True


class NewsBot:
    def __init__(self, answerer: Answerer, settings: TelegramSettings):
        self.answerer = answerer
        self.settings = settings
        self.rate = RateLimiter(settings.rate_limit_per_minute)
        self.refused_chats: set[int] = set()
        self.conversations = Conversations()  # in memory only, bounded, expiring
        self.corpus: CorpusFolder | None = None  # set by build_application: where admins add files

    @staticmethod
    def conversation_key(update: Update) -> tuple[int, int | None]:
        """One conversation per private chat, and per user within a group."""
        chat, user = update.effective_chat, update.effective_user
        grouped = chat is not None and chat.type != "private"
        return (chat.id if chat else 0, user.id if grouped and user else None)

    # --- access -------------------------------------------------------------------------
    async def _admitted(self, update: Update) -> bool:
        chat = update.effective_chat
        if chat is None:
            return False
        if self.settings.allowed_chats and chat.id not in self.settings.allowed_chats:
            if chat.id not in self.refused_chats:
                self.refused_chats.add(chat.id)
                await chat.send_message(REFUSAL)
            return False
        return True

    # --- commands -----------------------------------------------------------------------
    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not await self._admitted(update):
            return
        examples = await asyncio.to_thread(self.answerer.examples)
        if examples:
            shown = "例如 / e.g.:\n" + "\n".join(f"• {question}（{title}）" for question, title in examples)
        else:  # no clause of the kind examples are made from: name some articles instead
            titles = list(dict.fromkeys(p.title for p in self.answerer.index.sample_passages(30)))[:3]
            shown = "文章示例 / Some articles:\n" + "\n".join(f"• {t}" for t in titles)
        text = (
            "你好！我根据报纸文章回答问题：每个答案都是文章原文的摘录，并注明出处。\n"
            "Hello! I answer questions from newspaper articles with quotations only, each with "
            "its source. Ask in Chinese or English.\n\n" + shown
        )
        await update.effective_message.reply_text(text)

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not await self._admitted(update):
            return
        await update.effective_message.reply_text(
            "直接发送问题即可；在群组中请 @我、回复我的消息或使用 /ask 问题。\n"
            "Send a question as a message. In groups, mention me, reply to me, or use /ask.\n"
            "Buttons: More results · Full paragraph. /about shows the corpus.\n"
            "追问可以省略主语（它、那里……）；/new 开始新的对话。 A question may lean on the last one (it, there…); /new starts afresh."
        )

    async def about(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not await self._admitted(update):
            return
        m = self.answerer.index.manifest
        await update.effective_message.reply_text(
            f"Articles: {m.articles}\nPassages: {m.passages}\nModel: {m.model}\n"
            f"Index: {self.answerer.index_settings.backend}, built {m.built_at}"
        )

    async def ask_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        question = " ".join(context.args or [])
        if not question.strip():
            if await self._admitted(update):
                await update.effective_message.reply_text("Usage: /ask 问题 (your question)")
            return
        await self._answer(update, question)

    async def reload(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        if user is None or user.id not in self.settings.admins:
            await update.effective_message.reply_text("Only admins can /reload.")
            return
        try:
            index = await asyncio.to_thread(self.answerer.reload)
        except Exception as error:  # noqa: BLE001 - the old index keeps serving in every case
            log.warning("reload failed, keeping the old index: %s", error)
            await update.effective_message.reply_text(f"Reload failed, the old index keeps serving: {error}")
            return
        await update.effective_message.reply_text(
            f"Reloaded: {index.manifest.passages} passages, built {index.manifest.built_at}."
        )

    # --- messages -----------------------------------------------------------------------
    async def private_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._answer(update, update.effective_message.text or "")

    async def group_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        me = context.bot
        replied = message.reply_to_message
        to_me = replied is not None and replied.from_user is not None and replied.from_user.id == me.id
        mention = f"@{me.username}".lower() if me.username else None
        mentioned = bool(mention) and any(
            text.lower() == mention
            for entity, text in message.parse_entities([MessageEntity.MENTION]).items()
        )
        if not (to_me or mentioned):
            return  # ordinary group chatter
        question = message.text or ""
        if mention:
            question = _remove_case_insensitive(question, mention)
        await self._answer(update, question)

    async def non_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if await self._admitted(update):
            await update.effective_message.reply_text(NON_TEXT_HINT)

    async def _answer(self, update: Update, question: str) -> None:
        if not await self._admitted(update):
            return
        message = update.effective_message
        user = update.effective_user
        if user is not None and not self.rate.allow(user.id):
            await message.reply_text(SLOW_DOWN)
            return
        conversation = self.conversations.get(self.conversation_key(update))
        answer = await asyncio.to_thread(ask, self.answerer, conversation, question, MAX_HITS)
        await self._send_answer(message, answer)

    # --- the corpus, grown by admins --------------------------------------------------------
    def _is_admin(self, update: Update) -> bool:
        user = update.effective_user
        return user is not None and user.id in self.settings.admins

    async def document(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not await self._admitted(update):
            return
        message = update.effective_message
        if not self._is_admin(update):
            await message.reply_text(ONLY_ADMINS_ADD)
            return
        document = message.document
        name = document.file_name or "unnamed"
        if document.file_size and document.file_size > self.settings.max_upload_bytes:
            await message.reply_text(
                f"{name} was not added: {document.file_size / 2**20:.1f} MB is over the "
                f"{self.settings.max_upload_bytes / 2**20:.0f} MB limit (TELEGRAM_MAX_UPLOAD_MB)."
            )
            return
        await message.reply_text(f"Received {name}: checking and indexing it. Questions are answered meanwhile.")
        context.application.create_task(self._add(message, document), update=update)

    async def _add(self, message: Message, document) -> None:
        name = document.file_name or "unnamed"
        with tempfile.TemporaryDirectory(prefix="newsqa-download-") as folder:
            try:
                telegram_file = await document.get_file()
                downloaded = await telegram_file.download_to_drive(Path(folder) / "document")
                change = await asyncio.to_thread(self.corpus.add, Path(downloaded), name)
                await asyncio.to_thread(self.answerer.reload)
            except UploadRejected as problem:
                await message.reply_text(str(problem))
                return
            except Exception as error:  # noqa: BLE001 - the old index keeps serving in every case
                log.warning("adding %s failed: %s", name, error)
                await message.reply_text(f"{name} was not added ({type(error).__name__}: {error}); the index is unchanged.")
                return
        version = "a new version of that file" if change.replaced else "a new file"
        await message.reply_text(
            f"Added {change.name} ({version}): {change.articles} articles, {change.passages} passages. "
            f"The index now holds {change.report.passages} passages."
        )

    async def sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not await self._admitted(update):
            return
        files = self.corpus.sources() if self.corpus else []
        lines = [f"• {name} ({size / 1024:.0f} KB)" for name, size in files] or ["(none)"]
        await update.effective_message.reply_text("Corpus files / 语料文件:\n" + "\n".join(lines))

    async def remove(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not await self._admitted(update):
            return
        message = update.effective_message
        if not self._is_admin(update):
            await message.reply_text("Only admins can /remove files.")
            return
        name = " ".join(context.args or []).strip()
        if not name:
            await message.reply_text("Usage: /remove FILE_NAME (see /sources)")
            return
        try:
            change = await asyncio.to_thread(self.corpus.remove, name)
            await asyncio.to_thread(self.answerer.reload)
        except UploadRejected as problem:
            await message.reply_text(str(problem))
            return
        await message.reply_text(f"Removed {change.name}. The index now holds {change.report.passages} passages.")

    async def new_conversation(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not await self._admitted(update):
            return
        self.conversations.reset(self.conversation_key(update))
        await update.effective_message.reply_text(
            "新的对话：下一个问题不再接上一问。 / A new conversation: the next question stands on its own."
        )

    async def _send_answer(self, message: Message, answer: Answer) -> None:
        chunks = split_message(answer_html(answer, 0))
        markup = self._keyboard(answer, 0)
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            await message.reply_html(chunk, reply_markup=markup if last else None,
                                     do_quote=i == 0, disable_web_page_preview=True)

    def _keyboard(self, answer: Answer, page: int) -> InlineKeyboardMarkup | None:
        if answer.not_found or not answer.hits:
            return None
        buttons = [
            InlineKeyboardButton(
                "Full paragraph" if page == 0 else f"¶ {number}",
                callback_data=f"p:{hit.passage_id}",
            )
            for number, hit in hits_on_page(answer, page)
        ]
        rows = [buttons]
        if page + 1 < page_count(answer):
            rows.append([InlineKeyboardButton("More results", callback_data=f"m:{page + 1}")])
        return InlineKeyboardMarkup(rows)

    # --- buttons ------------------------------------------------------------------------
    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        await query.answer()  # at once, so the client stops its spinner
        if not await self._admitted(update):
            return
        kind, _, value = (query.data or "").partition(":")
        if kind == "p":
            passage = self.answerer.passage(value)
            if passage is None:
                await query.message.reply_text("That paragraph is no longer in the index.")
                return
            text = passage_html(passage.title, passage.section, passage.ordinal, passage.text, passage.part)
            for chunk in split_message(text):
                await query.message.reply_html(chunk)
        elif kind == "m" and value.isdigit():
            original = query.message.reply_to_message if query.message else None
            question = _question_of(original)
            if not question:
                await query.message.reply_text("Please ask the question again.")
                return
            answer = await asyncio.to_thread(self.answerer.answer, question, MAX_HITS)
            page = min(int(value), page_count(answer) - 1)
            text = split_message(answer_html(answer, page))[0]
            await query.edit_message_text(text, parse_mode=ParseMode.HTML,
                                          reply_markup=self._keyboard(answer, page))


def _remove_case_insensitive(text: str, needle: str) -> str:
    at = text.lower().find(needle)
    return text if at < 0 else (text[:at] + text[at + len(needle):]).strip()


def _question_of(message: Message | None) -> str:
    if message is None or not message.text:
        return ""
    text = message.text
    if text.startswith("/ask"):
        text = text.split(maxsplit=1)[1] if " " in text else ""
    return text.strip()


def build_application(answerer: Answerer, settings: TelegramSettings, corpus: CorpusFolder | None = None) -> Application:
    """``corpus``: where admins' documents go (``None``: adding articles from the chat is off)."""
    news = NewsBot(answerer, settings)
    news.corpus = corpus

    async def register_commands(application: Application) -> None:
        await application.bot.set_my_commands(COMMANDS)
        if settings.index_watch_seconds > 0:
            application.bot_data["index_watch"] = asyncio.create_task(
                watch_index(answerer, settings.index_watch_seconds)
            )

    async def stop_watching(application: Application) -> None:
        task = application.bot_data.pop("index_watch", None)
        if task is not None:
            task.cancel()

    application = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.api_base_url)
        .base_file_url(settings.file_url)
        .rate_limiter(AIORateLimiter(max_retries=3))
        .concurrent_updates(True)
        .post_init(register_commands)
        .post_shutdown(stop_watching)
        .build()
    )
    private = filters.ChatType.PRIVATE
    groups = filters.ChatType.GROUPS
    application.add_handler(CommandHandler("start", news.start))
    application.add_handler(CommandHandler("help", news.help))
    application.add_handler(CommandHandler("about", news.about))
    application.add_handler(CommandHandler("ask", news.ask_command))
    application.add_handler(CommandHandler("reload", news.reload))
    application.add_handler(CommandHandler("new", news.new_conversation))
    application.add_handler(CommandHandler("sources", news.sources))
    application.add_handler(CommandHandler("remove", news.remove))
    # documents only in a private chat: files shared in a group are the group's, not the corpus's
    application.add_handler(MessageHandler(private & filters.Document.ALL, news.document))
    application.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND, news.private_text))
    application.add_handler(MessageHandler(groups & filters.TEXT & ~filters.COMMAND, news.group_text))
    application.add_handler(MessageHandler(private & ~filters.TEXT & ~filters.COMMAND, news.non_text))
    application.add_handler(CallbackQueryHandler(news.button))
    application.add_error_handler(_log_error)
    application.bot_data["news"] = news
    return application


async def watch_index(answerer: Answerer, every: float) -> None:
    """Serve the build that ``python -m embeddings.build`` swaps in, without a restart or /reload."""
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(answerer.reload_if_changed)
        except Exception:  # noqa: BLE001 - watching must outlive any one failure
            log.exception("looking for a new index build failed; trying again later")


async def _log_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    error = context.error
    if isinstance(error, TelegramError):
        log.warning("Telegram request failed, carrying on: %s", error)
    else:
        log.error("Handler failed, carrying on", exc_info=error)


def protect_logs(token: str) -> None:
    redactor = TokenRedactor(token)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def webhook_arguments(settings: TelegramSettings) -> dict:
    """Where the webhook listens and what Telegram is told; updates without the secret token
    (anyone else posting to the public URL) are refused by PTB with 403."""
    import secrets

    return dict(
        listen=settings.webhook_listen, port=settings.webhook_port, url_path="telegram",
        webhook_url=settings.webhook_url.rstrip("/") + "/telegram",
        secret_token=settings.webhook_secret or secrets.token_urlsafe(32),
        allowed_updates=Update.ALL_TYPES,
    )


def run(index_dir: Path) -> int:
    """The production entry point: polling, or a webhook when TELEGRAM_WEBHOOK_URL is set."""
    try:
        settings = TelegramSettings.from_env()
    except SettingError as problem:
        log.error("%s", problem)
        print(f"error: {problem}")
        return 2
    protect_logs(settings.token)
    answerer = Answerer.load(index_dir)
    index_settings = replace(IndexSettings.from_env(), index_dir=Path(index_dir))
    corpus = CorpusFolder(index_settings, encoder=build_encoder(answerer.encoder), max_bytes=settings.max_upload_bytes)
    application = build_application(answerer, settings, corpus)
    log.info("Serving %d passages from %s", answerer.index.passage_count, index_dir)
    if settings.webhook_url:
        application.run_webhook(**webhook_arguments(settings))
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0
