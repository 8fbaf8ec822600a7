"""A model's closed vocabulary: which prompt words it knows and which it will ignore."""

from __future__ import annotations

from studio.graph.model import Graph, Link, Node
from studio.vocabulary import model_folder_feeding, vocabulary_of


def write_tokenizer(folder, model) -> None:
    """A tokenizer.json as the tokenizers library writes it, around ``model``."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers

    tokenizer = Tokenizer(model)
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.add_special_tokens(["<unk>"])
    (folder / "tokenizer").mkdir(parents=True)
    tokenizer.save(str(folder / "tokenizer" / "tokenizer.json"))


def test_a_word_level_tokenizer_lists_its_words_and_finds_the_ignored_ones(tmp_path):
    from tokenizers.models import WordLevel

    write_tokenizer(tmp_path, WordLevel({"<unk>": 0, "a": 1, "red": 2, "circle": 3, ",": 4}, unk_token="<unk>"))
    vocabulary = vocabulary_of(tmp_path)
    assert vocabulary.words == ("a", "circle", "red")  # no special tokens, no punctuation
    text = "A red Cat, walking"
    assert vocabulary.unknown(text) == [(6, 9, "Cat"), (11, 18, "walking")]  # as the encoder splits it
    assert vocabulary.unknown("a red circle") == []


def test_open_vocabularies_and_missing_or_broken_files_give_none(tmp_path):
    assert vocabulary_of(tmp_path) is None
    bpe = tmp_path / "bpe"
    from tokenizers.models import BPE

    write_tokenizer(bpe, BPE({"a": 0, "<unk>": 1}, [], unk_token="<unk>"))
    assert vocabulary_of(bpe) is None  # it can spell any word: nothing is ignored
    broken = tmp_path / "broken"
    (broken / "tokenizer").mkdir(parents=True)
    (broken / "tokenizer" / "tokenizer.json").write_text("{not json")
    assert vocabulary_of(broken) is None


def test_the_bundled_starter_model_exposes_its_words():
    from studio.bundled import find_bundled

    vocabulary = vocabulary_of(find_bundled("resources/models/starter"))
    assert {"red", "circle", "moving", "background"} <= set(vocabulary.words)
    assert [word for *_, word in vocabulary.unknown("a cat walking on the beach")] == ["cat", "walking", "beach"]


def test_the_model_feeding_a_prompt_is_found_through_a_lora():
    graph = Graph()
    for node in (
        Node("load", "LoadModel", {"path": "resources/models/starter"}),
        Node("lora", "LoadLoRA", {"path": "style.safetensors"}),
        Node("prompt", "TextEncode", {"text": "a red circle"}),
        Node("alone", "TextEncode", {"text": ""}),
    ):
        graph.add_node(node)
    graph.connect(Link("load", "model", "lora", "model"))
    graph.connect(Link("lora", "model", "prompt", "model"))
    assert model_folder_feeding(graph, "prompt") == "resources/models/starter"
    assert model_folder_feeding(graph, "alone") is None
