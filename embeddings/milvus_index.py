"""The index in Milvus: the same passages, vectors and BM25 statistics as the FAISS backend, kept
in three collections of one Milvus (Lite in a file, a standalone server or a cluster).

- ``<name>``: one row per passage: its key (the passage id's 64 bits), the passage as JSON, its
  vector, and its BM25 tokens (ours: jieba words and character pairs, space-joined, read by the
  ``standard`` analyzer into the BM25 function's sparse vector). The manifest is a property.
- ``<name>_sentences``: one vector per sentence of a passage (the excerpt and the fusion use them).
- ``<name>_terms``: how many passages hold each token (idf for coverage and highlighting, which
  BM25 search alone does not give).

Searches are a dense search and a BM25 search; fusion stays on our side (bot/retrieval.py).
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .config import IndexSettings
from .documents import Passage
from .index_store import FORMAT_VERSION, IndexModelMismatch, IndexUnavailable, Manifest

log = logging.getLogger(__name__)

MANIFEST_PROPERTY = "newsqa.manifest"
SENTENCES, TERMS = "_sentences", "_terms"
BM25_K1, BM25_B = 1.5, 0.75  # bm25s's defaults, so both backends score alike
WEIGHT_STEPS = 20  # a token of weight w is sent round(20w) times (its tf in the query): weights to 0.05
MAX_TOKENS_BYTES = 65_535  # VARCHAR limit of the tokens field
CACHED_PASSAGES = 8192
QUERY_BATCH = 1000  # keys per filter expression
MAX_QUERY_ROWS = 16_384  # a server's cap on the rows one query returns


def passage_key(passage_id: str) -> int:
    """The 16 hex digits of a passage id as a signed 64-bit primary key (and back, exactly)."""
    return int.from_bytes(bytes.fromhex(passage_id), "big", signed=True)


def passage_id_of(key: int) -> str:
    return int(key).to_bytes(8, "big", signed=True).hex()


def stored_token(token: str) -> str:
    """Our token as one word for Milvus's ``standard`` analyzer, which splits at anything not a
    letter or digit: ``3.5`` and ``70%`` must stay one token, as they are in bm25s."""
    if token.isalnum():
        return token
    return "".join(c if c.isalnum() else f"x{ord(c):x}x" for c in token)


def stored_tokens(tokens: list[str]) -> str:
    text = " ".join(stored_token(t) for t in tokens)
    if len(text.encode("utf-8")) > MAX_TOKENS_BYTES:
        text = text.encode("utf-8")[:MAX_TOKENS_BYTES].decode("utf-8", "ignore").rsplit(" ", 1)[0]
    return text


def weighted_query(weighted_tokens: dict[str, float]) -> str:
    """The query text whose term frequencies are the tokens' weights in ``WEIGHT_STEPS``ths."""
    words = []
    for token, weight in weighted_tokens.items():
        if token and weight > 0:
            words += [stored_token(token)] * max(1, round(weight * WEIGHT_STEPS))
    return " ".join(words)


# --- connections --------------------------------------------------------------------------

_clients: dict[tuple[str, str], object] = {}
_clients_lock = threading.Lock()


def connect(settings: IndexSettings):
    """One client per Milvus for the process (Milvus Lite allows one process per file)."""
    from pymilvus import MilvusClient

    uri = settings.milvus_location
    with _clients_lock:
        client = _clients.get((uri, settings.milvus_token))
        if client is not None:
            return client
        if "://" not in uri:
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
            _check_lite_lock(Path(uri))
        try:
            client = MilvusClient(uri=uri, token=settings.milvus_token) if settings.milvus_token else MilvusClient(uri=uri)
        except Exception as error:  # noqa: BLE001 - pymilvus raises many kinds; the advice is the same
            raise IndexUnavailable(_connection_advice(uri, error)) from error
        _clients[(uri, settings.milvus_token)] = client
        return client


def disconnect(settings: IndexSettings) -> None:
    with _clients_lock:
        client = _clients.pop((settings.milvus_location, settings.milvus_token), None)
    if client is not None:
        client.close()
        if "://" not in settings.milvus_location:  # closing the client leaves Lite's file locked
            from milvus_lite import server_manager_instance

            server_manager_instance.release_server(settings.milvus_location)


def _check_lite_lock(path: Path) -> None:
    """Milvus Lite allows one process per file, and pymilvus reports a second one only as "Open
    local milvus failed": look at the file's lock first to say what is wrong."""
    import fcntl

    from milvus_lite import server_manager_instance

    lock = path / "LOCK"
    if not lock.exists() or str(path.resolve()) in getattr(server_manager_instance, "_servers", {}):
        return  # no file yet, or this process serves it already
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
    except OSError:
        raise IndexUnavailable(
            f"the Milvus Lite file {path} is open in another process (a running bot or build?); "
            "Milvus Lite allows one process per file: stop the other one, or run a Milvus server "
            "(MILVUS_URI=http://host:19530) to serve and build at the same time"
        ) from None
    finally:
        os.close(fd)


def _connection_advice(uri: str, error: Exception) -> str:
    return (
        f"cannot reach Milvus at MILVUS_URI={uri} ({type(error).__name__}: {error}): "
        "start it, or fix MILVUS_URI and MILVUS_TOKEN"
    )


def stored_manifest(client, name: str) -> Manifest | None:
    if not client.has_collection(name):
        return None
    properties = client.describe_collection(name).get("properties") or {}
    raw = properties.get(MANIFEST_PROPERTY)
    if not raw:
        return None
    try:
        return Manifest(**json.loads(raw))
    except (ValueError, TypeError):
        return None


def stored_version(settings: IndexSettings) -> str | None:
    """The build id in the collection (a serving bot asks every INDEX_WATCH_SECONDS)."""
    try:
        manifest = stored_manifest(connect(settings), settings.milvus_collection)
    except IndexUnavailable:
        raise
    except Exception as error:  # noqa: BLE001 - a server gone away: the caller keeps its index
        raise IndexUnavailable(_connection_advice(settings.milvus_location, error)) from error
    return manifest.build_id if manifest is not None else None


def manifest_properties(manifest: Manifest) -> dict[str, str]:
    return {MANIFEST_PROPERTY: json.dumps(asdict(manifest), ensure_ascii=False)}


def stored_frequencies(client, terms: str, names: list[str]) -> dict[str, int]:
    """Document counts of stored tokens, looked up by primary key (tokens not held: absent)."""
    found: dict[str, int] = {}
    for start in range(0, len(names), QUERY_BATCH):
        rows = client.get(terms, ids=names[start : start + QUERY_BATCH], output_fields=["token", "df"])
        found.update((row["token"], int(row["df"])) for row in rows)
    return found


def _keys_filter(field: str, keys: list[int]) -> str:
    return f"{field} in [{', '.join(str(int(k)) for k in keys)}]"


class _Requests:
    """The client's searches and queries, a failure told as ``IndexUnavailable``: a server that
    goes away while the bot serves gets "cannot search now", not a crash."""

    def __init__(self, client, where: str):
        self.client = client
        self.where = where

    def _call(self, method, args, kwargs):
        try:
            return method(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - pymilvus raises many kinds; the user's remedy is one
            raise IndexUnavailable(f"{self.where} did not answer ({type(error).__name__}: {str(error)[:200]})") from error

    def search(self, *args, **kwargs):
        return self._call(self.client.search, args, kwargs)

    def query(self, *args, **kwargs):
        return self._call(self.client.query, args, kwargs)

    def get(self, *args, **kwargs):
        return self._call(self.client.get, args, kwargs)

    def __getattr__(self, name: str):
        return getattr(self.client, name)


class MilvusIndex:
    """Reads one collection set; passages and their vectors are fetched for the candidates of a
    question in one query and kept in a bounded cache (keys name content, so it never goes stale)."""

    def __init__(self, client, settings: IndexSettings, manifest: Manifest, count: int):
        self.client = _Requests(client, f"Milvus at {settings.milvus_location}")
        self.settings = settings
        self.name = settings.milvus_collection
        self.manifest = manifest
        self._count = count
        self._passages: OrderedDict[int, tuple[Passage, np.ndarray]] = OrderedDict()
        self._sentences: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def open(cls, settings: IndexSettings, expected_model: str | None = None) -> "MilvusIndex":
        client = connect(settings)
        where = f"the Milvus collection {settings.milvus_collection!r} at {settings.milvus_location}"
        advice = "build it with `INDEX_BACKEND=milvus python -m embeddings.build`"
        try:
            manifest = stored_manifest(client, settings.milvus_collection)
            if manifest is None:
                raise IndexUnavailable(f"no index in {where}: {advice}")
            if manifest.format_version != FORMAT_VERSION:
                raise IndexUnavailable(f"{where} has format {manifest.format_version}: {advice} --full")
            if expected_model and manifest.model != expected_model:
                raise IndexModelMismatch(
                    f"{where} was built with the model {manifest.model!r}, but EMBEDDING_MODEL is "
                    f"{expected_model!r}: {advice}, or set EMBEDDING_MODEL back"
                )
            for name in (settings.milvus_collection, settings.milvus_collection + SENTENCES,
                         settings.milvus_collection + TERMS):
                if not client.has_collection(name):
                    raise IndexUnavailable(f"{where} lacks its part {name!r}: {advice} --full")
                client.load_collection(name)  # required after a reopen before any search
            count = row_count(client, settings.milvus_collection)
        except IndexUnavailable:
            raise
        except Exception as error:  # noqa: BLE001 - any failure here means the same to the user
            raise IndexUnavailable(f"{where} cannot be read ({type(error).__name__}: {error}): {advice} --full") from error
        return cls(client, settings, manifest, count)

    # --- the IndexBackend interface -------------------------------------------------------

    round_trips = True  # every lookup is a request to Milvus: batch them

    @property
    def version(self) -> str:
        return self.manifest.build_id

    @property
    def passage_count(self) -> int:
        return self._count

    def dense_search(self, vector: np.ndarray, limit: int) -> list[tuple[int, float]]:
        found = self.client.search(
            self.name, data=[np.asarray(vector, dtype=np.float32).tolist()], anns_field="dense",
            limit=limit, output_fields=["key"], search_params={"metric_type": "IP", "params": _dense_search_params(self.manifest)},
        )
        return [(int(hit["key"]), float(hit["distance"])) for hit in found[0]]

    def bm25_search(
        self, weighted_tokens: dict[str, float], limit: int, also: Iterable[int] = (),
    ) -> tuple[list[tuple[int, float]], dict[int, float]]:
        query = weighted_query(weighted_tokens)
        if not query:
            return [], {}
        best = self._bm25(query, limit)
        scores = dict(best)
        missing = [k for k in dict.fromkeys(also) if k not in scores]
        more = dict(self._bm25(query, len(missing), _keys_filter("key", missing))) if missing else {}
        return [(k, s) for k, s in best if s > 0], {k: more.get(k, scores.get(k, 0.0)) for k in also}

    def _bm25(self, query: str, limit: int, where: str = "") -> list[tuple[int, float]]:
        found = self.client.search(
            self.name, data=[query], anns_field="sparse", limit=limit, filter=where,
            output_fields=["key"], search_params={"metric_type": "BM25"},
        )
        # Lite returns negated scores; bm25s leaves out BM25's constant (k1 + 1) factor
        scale = WEIGHT_STEPS * (BM25_K1 + 1)
        return [(int(hit["key"]), abs(float(hit["distance"])) / scale) for hit in found[0]]

    def prefetch(self, keys: list[int]) -> list[int]:
        wanted = [k for k in dict.fromkeys(keys) if k not in self._passages]
        for start in range(0, len(wanted), QUERY_BATCH):
            batch = wanted[start : start + QUERY_BATCH]
            for row in self.client.get(self.name, ids=batch, output_fields=["key", "passage", "dense"]):
                self._remember(self._passages, int(row["key"]),
                               (Passage.from_json(row["passage"]), np.asarray(row["dense"], dtype=np.float32)))
        # a passage deleted by an update since the search found it is left out
        present = [k for k in keys if k in self._passages]
        wanted = [k for k in dict.fromkeys(present) if k not in self._sentences]
        if wanted:
            self._read_sentences(wanted)
        return present

    def _read_sentences(self, keys: list[int]) -> None:
        """By primary key (``<passage id>-<position>``, the count known from the passage): a
        lookup, where a filter on the passage key is a scan of every sentence in Milvus Lite."""
        ids: list[str] = []
        blocks: dict[int, dict[int, list[float]]] = {}
        for key in keys:
            passage = self._entry(key)[0]
            ids += [f"{passage.id}-{i}" for i in range(len(passage.sentences))]
            blocks[key] = {}
        for start in range(0, len(ids), QUERY_BATCH):
            for row in self.client.get(self.name + SENTENCES, ids=ids[start : start + QUERY_BATCH],
                                       output_fields=["passage_key", "position", "vector"]):
                blocks[int(row["passage_key"])][int(row["position"])] = row["vector"]
        for key, block in blocks.items():
            vectors = np.asarray([block[i] for i in sorted(block)], dtype=np.float32).reshape(-1, self.manifest.dimension)
            self._remember(self._sentences, key, vectors)

    def _remember(self, cache: OrderedDict, key: int, value) -> None:
        with self._lock:  # the Telegram bot answers in several threads
            cache[key] = value
            cache.move_to_end(key)
            while len(cache) > CACHED_PASSAGES:
                cache.popitem(last=False)

    def _entry(self, key: int) -> tuple[Passage, np.ndarray]:
        found = self._passages.get(key)
        if found is None:
            self.prefetch([key])
            found = self._passages.get(key)
        if found is None:
            raise KeyError(f"passage {passage_id_of(key)} is not in the Milvus collection {self.name!r}")
        return found

    def passage(self, key: int) -> Passage:
        return self._entry(key)[0]

    def passage_vectors(self, keys: list[int]) -> np.ndarray:
        self.prefetch(keys)
        if not keys:
            return np.zeros((0, self.manifest.dimension), dtype=np.float32)
        return np.vstack([self._entry(k)[1] for k in keys])

    def sentence_vectors_of(self, key: int) -> np.ndarray:
        found = self._sentences.get(key)
        if found is None:
            self._read_sentences([key])
            found = self._sentences[key]
        return found

    def document_frequencies(self, tokens: Iterable[str]) -> dict[str, int]:
        stored = {stored_token(t): t for t in dict.fromkeys(tokens)}
        counts = stored_frequencies(self.client, self.name + TERMS, list(stored))
        return {token: counts.get(name, 0) for name, token in stored.items()}

    def passage_by_id(self, passage_id: str) -> Passage | None:
        try:
            return self.passage(passage_key(passage_id))
        except (KeyError, ValueError):
            return None

    def article_passages(self, article_id: str) -> list[Passage]:
        rows = self.client.query(self.name, filter=f"article_id == {json.dumps(article_id)}",
                                 output_fields=["passage"], limit=MAX_QUERY_ROWS)
        return sorted((Passage.from_json(r["passage"]) for r in rows), key=lambda p: (p.ordinal, p.part))

    def sample_passages(self, count: int, seed: int | None = None) -> list[Passage]:
        """Passages from a random point of the key space on (keys are hashes: a fair sample)."""
        start = random.Random(seed).randrange(-(2**63), 2**63)
        rows = list(self.client.query(self.name, filter=f"key >= {start}", output_fields=["passage"], limit=count))
        if len(rows) < count:  # pymilvus's result lists do not concatenate: copy them first
            rows += list(self.client.query(self.name, filter=f"key < {start}", output_fields=["passage"],
                                           limit=count - len(rows)))
        return [Passage.from_json(r["passage"]) for r in rows]

    def iter_passages(self) -> Iterator[Passage]:
        for row in scan(self.client, self.name, ["passage"], self._count):
            yield Passage.from_json(row["passage"])


def scan(client, name: str, fields: list[str], count: int, per_query: int = 2000) -> Iterator[dict]:
    """Every row, read in ranges of the key (hashes, so evenly filled). pymilvus's query iterator
    needs a timestamp service that Milvus Lite lacks; key ranges work on every deployment."""
    low, high = -(2**63), 2**63

    def ranges(start: int, end: int, parts: int) -> Iterator[tuple[int, int]]:
        step = (end - start) // parts
        for i in range(parts):
            yield start + i * step, (end if i == parts - 1 else start + (i + 1) * step)

    pending = list(ranges(low, high, max(1, -(-count // per_query))))
    while pending:
        start, end = pending.pop(0)
        where = f"key >= {start}" + (f" and key < {end}" if end < high else "")
        rows = client.query(name, filter=where, output_fields=fields, limit=MAX_QUERY_ROWS)
        if len(rows) >= MAX_QUERY_ROWS:  # a crowded range: read it in halves instead
            pending[:0] = list(ranges(start, end, 2))
            continue
        yield from rows


def row_count(client, name: str) -> int:
    rows = client.query(name, filter="", output_fields=["count(*)"])
    return int(rows[0]["count(*)"]) if rows else 0


def _dense_search_params(manifest: Manifest) -> dict:
    return {"ef": 128} if manifest.dense_index.startswith("HNSW") else {}
