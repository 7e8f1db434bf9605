"""``python -m embeddings.prepare``: make the encoder ready once (``make setup`` runs it).

Converts the bundled model into a sentence-transformers folder and exports it to ONNX (float32
and int8) for the bot's torch-free question encoder, and keeps jieba's dictionary as a trie
(``word_dictionary``). All are kept in ``MODEL_CACHE_DIR``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .config import IndexSettings
from .encoder import EncoderError, prepare_model
from .lexical import segmenter
from .onnx_model import OnnxUnavailable, prepare_onnx


def main() -> int:
    settings = IndexSettings.from_env()
    try:
        reference = prepare_model(settings)
        print("model ready:", reference)
        if Path(reference).is_dir():
            print("ONNX export ready:", prepare_onnx(settings, Path(reference)))
        segmenter()
        print("word dictionary ready:", settings.cache_dir)
    except (EncoderError, OnnxUnavailable, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
