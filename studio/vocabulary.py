"""The words a model's text encoder knows, for prompt boxes that complete and warn.

A model whose tokenizer has a closed vocabulary (a WordLevel ``tokenizer.json``, as the bundled
starter model's) turns every other word into its unknown token: the word is ignored, and a
prompt made of such words gives a smear with no error. Models with open vocabularies (BPE,
Unigram: every real checkpoint) can spell any word, so they expose none and nothing is marked.
Any model folder in the diffusers layout exposes one this way, whatever its family.

No Qt and no torch here; the ``tokenizers`` library is imported only when a vocabulary is read,
and it splits the prompt exactly as the text encoder will (its normaliser and pre-tokeniser).
"""

from __future__ import annotations

import functools
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.textsafe import safe

log = logging.getLogger(__name__)
TOKENIZER_FILE = Path("tokenizer") / "tokenizer.json"
MAX_FILE_BYTES = 4 * 1024 * 1024  # a closed vocabulary of meaningful words is small; big files are open ones


@dataclass(frozen=True)
class Vocabulary:
    """The words a model knows (for completion) and a way to find the ones it would ignore."""

    words: tuple[str, ...]
    tokenizer: Any  # a tokenizers.Tokenizer
    unknown_id: int | None

    def unknown(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, word) for each word of ``text`` the model ignores, in order."""
        if not text.strip():
            return []
        encoding = self.tokenizer.encode(text, add_special_tokens=False)
        return [
            (start, end, text[start:end])
            for token_id, (start, end) in zip(encoding.ids, encoding.offsets, strict=False)
            if token_id == self.unknown_id
        ]


def model_folder_feeding(graph: Any, node_id: str) -> str | None:
    """The ``path`` of the loader whose model reaches ``node_id``'s ``model`` input, following
    nodes that pass a model through (a LoRA) upstream; None when no loader feeds it."""
    seen: set[str] = set()
    current = node_id
    while current not in seen:
        seen.add(current)
        link = graph.link_into(current, "model")
        if link is None or link.from_node not in graph:
            return None
        if graph.link_into(link.from_node, "model") is None:
            path = graph.node(link.from_node).params.get("path")
            return path if isinstance(path, str) and path else None
        current = link.from_node
    return None


def vocabulary_of(model_folder: str | os.PathLike[str]) -> Vocabulary | None:
    """The closed vocabulary of the model in ``model_folder``, or None when it has none."""
    path = Path(model_folder) / TOKENIZER_FILE
    try:
        stat = path.stat()
    except OSError:
        return None
    if stat.st_size > MAX_FILE_BYTES:
        return None
    return _read(str(path), stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _read(path: str, _mtime: int) -> Vocabulary | None:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        model = data["model"]
        if model.get("type") != "WordLevel":
            return None
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(json.dumps(data))
        vocab = dict(model["vocab"])
    except Exception as exc:  # tokenizers raises its own errors: a broken file means no vocabulary, no crash
        log.warning("cannot read the vocabulary in %s: %s", safe(path), safe(str(exc)))
        return None
    special = {token.get("content") for token in data.get("added_tokens", []) if isinstance(token, dict)}
    special.add(model.get("unk_token"))
    words = sorted(
        w for w in vocab if w not in special and any(c.isalnum() for c in w) and not (w[0] == "<" and w[-1] == ">")
    )
    return Vocabulary(tuple(words), tokenizer, vocab.get(model.get("unk_token")))
