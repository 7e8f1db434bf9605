"""Writes a parsed corpus into Milvus incrementally: upserts for new and changed passages,
deletes for removed ones, document frequencies adjusted by the difference, and the manifest
(model, prompts, build id) stored as a property of the collection.

Unlike the FAISS backend, which swaps in a complete new build, a Milvus collection is updated in
place: a question asked during an update may see some of the new passages before the others.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from itertools import islice
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from . import lexical
from .config import IndexSettings
from .documents import Passage, stable_id
from .index_store import ANN_MIN_PASSAGES, FORMAT_VERSION, Manifest, model_change
from .milvus_index import (
    BM25_B, BM25_K1, SENTENCES, TERMS, connect, manifest_properties, row_count,
    passage_key, scan, stored_frequencies, stored_manifest, stored_tokens,
)

log = logging.getLogger("embeddings.build")

WRITE_BATCH = 256
MAX_TOKEN_CHARS = 256


@dataclass
class MilvusUpdate:
    added: int
    changed: int
    removed: int
    encoded: int
    up_to_date: bool
    full_reason: str
    location: str


def digest(passage: Passage) -> str:
    """Names a passage's stored form: the same id with another digest is re-stated metadata."""
    return stable_id(json.dumps(passage.to_json(), ensure_ascii=False, sort_keys=True))


def update_collection(
    settings: IndexSettings, passages: list[Passage], manifest: Manifest, full: bool,
    encode: Callable[[list[str]], tuple[np.ndarray, int]], progress: bool,
) -> MilvusUpdate:
    """``encode(texts)`` gives their vectors and the model's dimension (the encoder is loaded
    only when some text is new). ``manifest`` is filled in and stored."""
    client = connect(settings)
    name = settings.milvus_collection
    location = f"Milvus {settings.milvus_location}, collection {name!r}"
    previous = stored_manifest(client, name)
    full_reason = _full_reason(client, name, previous, manifest, full)
    if full_reason:
        if full_reason != "no previous index":
            log.warning("full build of %s: %s", location, full_reason)
        for part in (name, name + SENTENCES, name + TERMS):
            if client.has_collection(part):
                client.drop_collection(part)
        old: dict[str, str] = {}
    else:
        for part in (name, name + SENTENCES, name + TERMS):
            client.load_collection(part)  # required after a reopen before any query
        old = _stored_digests(client, name)
        manifest.dense_index = previous.dense_index  # the collection's, set when it was created

    new = {p.id: p for p in passages}
    gone_ids = [i for i in old if i not in new]
    fresh = [p for p in passages if p.id not in old]
    restated = [p for p in passages if p.id in old and old[p.id] != digest(p)]
    gone = _stored_rows(client, name, [passage_key(i) for i in gone_ids + [p.id for p in restated]],
                        ["key", "passage", "tokens", "dense"])
    removed_ids = set(gone_ids)
    gone_passages = [Passage.from_json(r["passage"]) for r in gone if r["passage"]["id"] in removed_ids]
    slots = {(p.source, p.title, p.ordinal) for p in gone_passages}
    changed = sum(1 for p in fresh if (p.source, p.title, p.ordinal) in slots)
    added, removed = len(fresh) - changed, len(gone_ids) - changed
    if previous is not None and not full_reason and not fresh and not gone_ids and not restated \
            and previous.corpus_fingerprint == manifest.corpus_fingerprint:
        return MilvusUpdate(0, 0, 0, 0, True, "", location)

    # an edited paragraph keeps the vectors of its unchanged sentences (as FAISS builds reuse them)
    by_text = _reusable_vectors(client, name, gone) if gone else {}
    wanted = dict.fromkeys([p.text for p in fresh] + [t for p in fresh for t in _sentences(p)])
    texts = [t for t in wanted if stable_id(t) not in by_text]
    vectors, dimension = encode(texts) if texts else (np.zeros((0, 0), dtype=np.float32), previous.dimension)
    by_text.update((stable_id(t), v) for t, v in zip(texts, vectors))
    manifest.dimension = dimension
    _ensure_collections(client, name, dimension, manifest, len(passages))

    old_dense = {int(r["key"]): r["dense"] for r in gone}
    frequencies: Counter[str] = Counter()

    def passage_rows():
        for passage in fresh + restated:
            key = passage_key(passage.id)
            vector = by_text[stable_id(passage.text)] if key not in old_dense else old_dense[key]
            row = _passage_row(passage, key, vector)
            frequencies.update(set(row["tokens"].split()))
            yield row

    def sentence_rows():
        for passage in fresh:
            for i, text in enumerate(_sentences(passage)):
                yield {"id": f"{passage.id}-{i}", "passage_key": passage_key(passage.id), "position": i,
                       "vector": by_text[stable_id(text)]}

    # rows are made batch by batch: a million passages are never a million dictionaries at once
    _write(client, name, passage_rows(), len(fresh) + len(restated), progress, "passages")
    _write(client, name + SENTENCES, sentence_rows(), sum(len(p.sentences) for p in fresh), progress, "sentences")
    if gone_ids:
        keys = [passage_key(i) for i in gone_ids]
        for start in range(0, len(keys), 1000):
            client.delete(name, ids=keys[start : start + 1000])
        sentence_ids = [f"{p.id}-{i}" for p in gone_passages for i in range(len(p.sentences))]
        for start in range(0, len(sentence_ids), 1000):
            client.delete(name + SENTENCES, ids=sentence_ids[start : start + 1000])
    for row in gone:
        frequencies.subtract(set(row["tokens"].split()))
    _apply_frequencies(client, name + TERMS, frequencies)

    manifest.build_id = time.strftime("%Y%m%d-%H%M%S") + f"-milvus-{uuid.uuid4().hex[:6]}"
    manifest.built_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    for part in (name, name + SENTENCES, name + TERMS):
        client.flush(part)
    manifest.passages = row_count(client, name)
    # the manifest goes last: its new build id tells serving bots to take up the update
    client.alter_collection_properties(name, properties=manifest_properties(manifest))
    return MilvusUpdate(added, changed, removed, len(texts), False, full_reason, location)


def _full_reason(client, name: str, previous: Manifest | None, manifest: Manifest, full: bool) -> str:
    if previous is None:
        return "no previous index"
    if full:
        return "--full"
    if model_change(previous, manifest):
        return model_change(previous, manifest)
    if previous.format_version != FORMAT_VERSION:
        return f"the collection has format {previous.format_version}, this program writes {FORMAT_VERSION}"
    if not all(client.has_collection(part) for part in (name + SENTENCES, name + TERMS)):
        return "a part of the collection set is missing"
    return ""


def _sentences(passage: Passage) -> list[str]:
    return [passage.text[start:end] for start, end in passage.sentences]


def _reusable_vectors(client, name: str, gone: list[dict]) -> dict[str, np.ndarray]:
    """The vectors of the passages about to go, by the text they encode."""
    found: dict[str, np.ndarray] = {}
    for row in gone:
        found[stable_id(row["passage"]["text"])] = np.asarray(row["dense"], dtype=np.float32)
    texts = {}
    for row in gone:
        passage = Passage.from_json(row["passage"])
        texts.update((f"{passage.id}-{i}", text) for i, text in enumerate(_sentences(passage)))
    ids = list(texts)
    for start in range(0, len(ids), 1000):
        for row in client.get(name + SENTENCES, ids=ids[start : start + 1000], output_fields=["id", "vector"]):
            found[stable_id(texts[row["id"]])] = np.asarray(row["vector"], dtype=np.float32)
    return found


def _passage_row(passage: Passage, key: int, vector) -> dict:
    return {
        "key": key, "passage_id": passage.id, "article_id": passage.article_id, "digest": digest(passage),
        "passage": passage.to_json(), "tokens": stored_tokens(lexical.tokens(passage.title + " " + passage.text)),
        "dense": np.asarray(vector, dtype=np.float32).tolist(),
    }


def _ensure_collections(client, name: str, dimension: int, manifest: Manifest, passages: int) -> None:
    from pymilvus import DataType, Function, FunctionType

    if not client.has_collection(name):
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", DataType.INT64, is_primary=True)
        schema.add_field("passage_id", DataType.VARCHAR, max_length=16)
        schema.add_field("article_id", DataType.VARCHAR, max_length=16)
        schema.add_field("digest", DataType.VARCHAR, max_length=16)
        schema.add_field("passage", DataType.JSON)
        schema.add_field("tokens", DataType.VARCHAR, max_length=65_535, enable_analyzer=True,
                         analyzer_params={"type": "standard"})
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                     input_field_names=["tokens"], output_field_names=["sparse"]))
        indexes = client.prepare_index_params()
        # exact search for a corpus a scan answers quickly, as the FAISS backend does; HNSW above
        if passages < ANN_MIN_PASSAGES:
            indexes.add_index(field_name="dense", index_type="FLAT", metric_type="IP")
            manifest.dense_index = "flat"
        else:
            indexes.add_index(field_name="dense", index_type="HNSW", metric_type="IP",
                              params={"params": {"M": 16, "efConstruction": 200}})
            manifest.dense_index = "HNSW"
        # parameters nested under "params": Milvus Lite silently ignores the flat form
        indexes.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                          params={"params": {"bm25_k1": BM25_K1, "bm25_b": BM25_B}})
        indexes.add_index(field_name="article_id", index_type="INVERTED")
        _create(client, name, schema, indexes)
    if not client.has_collection(name + SENTENCES):
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=40)
        schema.add_field("passage_key", DataType.INT64)
        schema.add_field("position", DataType.INT64)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        indexes = client.prepare_index_params()
        indexes.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        indexes.add_index(field_name="passage_key", index_type="INVERTED")
        _create(client, name + SENTENCES, schema, indexes)
    if not client.has_collection(name + TERMS):
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("token", DataType.VARCHAR, is_primary=True, max_length=MAX_TOKEN_CHARS * 4)
        schema.add_field("df", DataType.INT64)
        schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)  # Milvus requires a vector field
        indexes = client.prepare_index_params()
        indexes.add_index(field_name="unused", index_type="FLAT", metric_type="IP")
        _create(client, name + TERMS, schema, indexes)
    for part in (name, name + SENTENCES, name + TERMS):
        client.load_collection(part)


def _create(client, name: str, schema, indexes) -> None:
    """The collection, then its indexes without waiting on them: they are empty at this point,
    and pymilvus's wait asks for a timestamp service that Milvus Lite lacks (a logged error)."""
    client.create_collection(name, schema=schema)
    client.create_index(name, indexes, sync=False)


def _stored_digests(client, name: str) -> dict[str, str]:
    return {r["passage_id"]: r["digest"] for r in scan(client, name, ["passage_id", "digest"], row_count(client, name))}


def _stored_rows(client, name: str, keys: list[int], fields: list[str]) -> list[dict]:
    rows: list[dict] = []
    for start in range(0, len(keys), 1000):
        batch = keys[start : start + 1000]
        rows += list(client.get(name, ids=batch, output_fields=fields))
    return rows


def _write(client, name: str, rows: Iterable[dict], total: int, progress: bool, what: str) -> None:
    """Always upsert: inserting an existing key overwrites in Lite but duplicates on a server."""
    from tqdm import tqdm

    with tqdm(total=total, desc=f"writing {what} to Milvus", unit=" rows",
              disable=not progress or total < WRITE_BATCH) as bar:
        for batch in batched(rows, WRITE_BATCH):
            client.upsert(name, list(batch))
            bar.update(len(batch))


def batched(rows: Iterable[dict], size: int):
    """itertools.batched, which Python 3.11 lacks."""
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def _apply_frequencies(client, name: str, delta: Counter[str]) -> None:
    tokens = [t for t, change in delta.items() if change and len(t) <= MAX_TOKEN_CHARS]
    current = stored_frequencies(client, name, tokens)
    counts = {t: current.get(t, 0) + delta[t] for t in tokens}
    kept = [{"token": t, "df": n, "unused": [0.0, 0.0]} for t, n in counts.items() if n > 0]
    dropped = [t for t, n in counts.items() if n <= 0 and t in current]
    _write(client, name, kept, len(kept), False, "terms")
    for start in range(0, len(dropped), 1000):
        client.delete(name, ids=dropped[start : start + 1000])
