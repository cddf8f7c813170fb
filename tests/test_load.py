"""Loading local models quickly: checkpoints agentkit made are read directly, the stop tokens are
looked up without building the vocabulary, the grammar engine's tokenizer is built without a copy.

Each fast path must give what the slow one gives; tiny random models keep these tests fast, and
the tests marked `model` check the default model and the packaged encoder themselves.
"""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
llguidance = pytest.importorskip("llguidance")
safetensors_torch = pytest.importorskip("safetensors.torch")
pytest.importorskip("transformers.initialization")  # the direct read needs transformers 5

from agentkit.models import TransformersModel, _encoder, _local  # noqa: E402
from tests._tiny import request_for, tiny_model  # noqa: E402


def tiny_llama(tokenizer: Any, *, tied: bool = True, seed: int = 0) -> Any:
    """A 2-layer Llama (SmolLM2's family), its output embedding tied to its input one."""
    return tiny_model(
        tokenizer,
        seed,
        "LlamaConfig",
        tie_word_embeddings=tied,
        eos_token_id=tokenizer.eos_token_id,
    )


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty agentkit cache."""
    monkeypatch.setenv("AGENTKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def save(model: Any, tokenizer: Any, directory: Path) -> Path:
    model.save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
    return directory


def assert_same_model(read: Any, loaded: Any) -> None:
    """The same weights (tied alike), buffers, config and generation config, in eval mode."""
    ours, theirs = read.state_dict(), loaded.state_dict()
    assert list(ours) == list(theirs)
    for name, tensor in ours.items():
        assert tensor.dtype == theirs[name].dtype and torch.equal(tensor, theirs[name]), name
    ours_buffers, their_buffers = dict(read.named_buffers()), dict(loaded.named_buffers())
    assert list(ours_buffers) == list(their_buffers)
    assert all(torch.equal(ours_buffers[n], their_buffers[n]) for n in ours_buffers)
    ours_names = [n for n, _ in read.named_parameters(remove_duplicate=False)]
    assert ours_names == [n for n, _ in loaded.named_parameters(remove_duplicate=False)]
    assert len(list(read.parameters())) == len(list(loaded.parameters()))  # tied alike
    assert read.config.to_dict() == loaded.config.to_dict()
    if loaded.can_generate():
        assert read.generation_config.to_dict() == loaded.generation_config.to_dict()
    assert not read.training and not loaded.training


@pytest.mark.parametrize("tied", [True, False])
def test_a_checkpoint_read_directly_is_the_model_from_pretrained_gives(
    tokenizer: Any, tmp_path: Path, tied: bool
) -> None:
    directory = save(tiny_llama(tokenizer, tied=tied), tokenizer, tmp_path / "tiny")
    read = _local.read_checkpoint(directory, transformers.AutoModelForCausalLM)
    assert read is not None
    assert_same_model(read, transformers.AutoModelForCausalLM.from_pretrained(str(directory)))
    if tied:
        assert read.lm_head.weight is read.model.embed_tokens.weight


def test_a_model_agentkit_converted_loads_without_from_pretrained(
    tokenizer: Any, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = save(tiny_llama(tokenizer, seed=1), tokenizer, cache / "Tiny")
    expected = transformers.AutoModelForCausalLM.from_pretrained(str(directory))

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("from_pretrained was called")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", refuse)
    model = TransformersModel(str(directory), router=None, max_new_tokens=12)
    assert_same_model(model.hf_model, expected)
    monkeypatch.undo()
    slow = TransformersModel.from_objects(expected, tokenizer, router=None, max_new_tokens=12)
    request = request_for(model, "paint it", tool_choice="required")
    assert model.generate(request).token_ids == slow.generate(request).token_ids


def test_a_model_elsewhere_still_loads_with_from_pretrained(
    tokenizer: Any, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = save(tiny_llama(tokenizer, seed=2), tokenizer, tmp_path / "elsewhere")

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("read directly")

    monkeypatch.setattr(_local, "read_checkpoint", refuse)
    model = TransformersModel(str(directory), router=None)
    assert model.hf_model.config.vocab_size == len(tokenizer)


def rewrite(directory: Path, change: Any) -> None:
    """Rewrite the checkpoint's tensors through `change(tensors)`."""
    path = directory / "model.safetensors"
    tensors = dict(safetensors_torch.load_file(str(path)))
    change(tensors)
    safetensors_torch.save_file(tensors, str(path), metadata={"format": "pt"})


def extra_tensor(tensors: dict[str, Any]) -> None:
    tensors["model.layers.0.mystery.weight"] = torch.zeros(3)


def missing_weight(tensors: dict[str, Any]) -> None:
    del tensors["model.layers.0.mlp.up_proj.weight"]


def mixed_dtypes(tensors: dict[str, Any]) -> None:
    tensors["model.norm.weight"] = tensors["model.norm.weight"].to(torch.float16)


@pytest.mark.parametrize("change", [extra_tensor, missing_weight, mixed_dtypes])
def test_a_checkpoint_that_does_not_fit_is_left_to_from_pretrained(
    tokenizer: Any, tmp_path: Path, change: Any
) -> None:
    directory = save(tiny_llama(tokenizer), tokenizer, tmp_path / "odd")
    rewrite(directory, change)
    assert _local.read_checkpoint(directory, transformers.AutoModelForCausalLM) is None


def test_a_config_that_names_another_dtype_is_left_to_from_pretrained(
    tokenizer: Any, tmp_path: Path
) -> None:
    directory = save(tiny_llama(tokenizer), tokenizer, tmp_path / "declared")
    config = json.loads((directory / "config.json").read_text())
    config["dtype"] = "bfloat16"  # the file holds float32
    (directory / "config.json").write_text(json.dumps(config))
    assert _local.read_checkpoint(directory, transformers.AutoModelForCausalLM) is None
    loaded = transformers.AutoModelForCausalLM.from_pretrained(str(directory))
    assert loaded.dtype == torch.bfloat16  # what the fallback gives


def test_a_broken_file_is_left_to_from_pretrained_to_report(tokenizer: Any, tmp_path: Path) -> None:
    directory = save(tiny_llama(tokenizer), tokenizer, tmp_path / "broken")
    (directory / "model.safetensors").write_bytes(b"not a safetensors file")
    assert _local.read_checkpoint(directory, transformers.AutoModelForCausalLM) is None


def test_reads_on_many_threads_leave_torch_initialising_weights(
    tokenizer: Any, tmp_path: Path
) -> None:
    originals = (torch.nn.init.normal_, torch.nn.init.kaiming_uniform_)
    directory = save(tiny_llama(tokenizer), tokenizer, tmp_path / "shared")
    models: list[Any] = []

    def read() -> None:
        models.append(_local.read_checkpoint(directory, transformers.AutoModelForCausalLM))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(models) == 4 and all(m is not None for m in models)
    assert (torch.nn.init.normal_, torch.nn.init.kaiming_uniform_) == originals
    torch.manual_seed(0)
    layer = torch.nn.Linear(4, 4)
    assert layer.weight.abs().sum() > 0  # initialised, not left empty


def test_end_of_turn_tokens_are_those_of_the_whole_vocabulary(tokenizer: Any) -> None:
    model = tiny_llama(tokenizer)
    vocab = tokenizer.get_vocab()
    expected = {tokenizer.eos_token_id, model.generation_config.eos_token_id}
    expected |= {vocab[t] for t in _local._END_OF_TURN if t in vocab}
    assert _local.end_of_turn_ids(model, tokenizer) == frozenset(expected)


def test_a_tokenizer_without_a_backend_is_looked_up_in_its_vocabulary() -> None:
    class Plain:
        eos_token_id = 7

        def get_vocab(self) -> dict[str, int]:
            return {"<|im_end|>": 3, "hello": 4}

    assert _local.end_of_turn_ids(object(), Plain()) == frozenset({3, 7})


def assert_same_grammar_tokenizer(ours: Any, theirs: Any) -> None:
    assert (ours.vocab_size, ours.eos_tokens) == (theirs.vocab_size, theirs.eos_tokens)
    assert all(ours.decode_bytes([i]) == theirs.decode_bytes([i]) for i in range(theirs.vocab_size))
    text = 'hello <tool_call>{"name": "paint"}</tool_call><|im_end|> wörld'
    assert ours.tokenize_str(text) == theirs.tokenize_str(text)


def test_the_grammar_tokenizer_is_the_one_llguidance_builds(tokenizer: Any) -> None:
    import llguidance.hf

    stops = [2, tokenizer.eos_token_id]
    ours = _local._grammar_tokenizer(tokenizer, stops)
    assert_same_grammar_tokenizer(ours, llguidance.hf.from_tokenizer(tokenizer, eos_token=stops))


def test_a_padding_tokenizer_gets_its_grammar_tokenizer_without_padding(tokenizer: Any) -> None:
    import llguidance.hf

    padding = copy.deepcopy(tokenizer)
    padding.backend_tokenizer.enable_padding(length=64)
    ours = _local._grammar_tokenizer(padding, [2])
    assert padding.backend_tokenizer.padding is not None  # left as it was
    assert_same_grammar_tokenizer(ours, llguidance.hf.from_tokenizer(tokenizer, eos_token=[2]))


# -- the tokenizer's added tokens, recorded in its config ----------------------------------------


def tokenizer_reads(directory: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[str]]:
    """The tokenizer loaded from `directory`, and the names of the JSON files read in Python."""
    read: list[str] = []
    load = json.load

    def recording_load(handle: Any, *args: Any, **kwargs: Any) -> Any:
        read.append(Path(getattr(handle, "name", "?")).name)
        return load(handle, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(json, "load", recording_load)
        loaded = transformers.AutoTokenizer.from_pretrained(str(directory))
    return loaded, read


def tokenized(tok: Any) -> list[Any]:
    texts = ["<|im_start|>user\nhi<|im_end|>", "ünïcödé  spaces\t\n", "<tool_call>{}</tool_call>"]
    chat = [{"role": "user", "content": "hi"}]
    return [
        [tok(text)["input_ids"] for text in texts],
        tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True),
        [tok.eos_token, tok.bos_token, tok.pad_token, tok.unk_token, tok.all_special_ids, len(tok)],
        sorted((i, str(t), t.special, t.normalized) for i, t in tok.added_tokens_decoder.items()),
    ]


def test_added_tokens_recorded_in_the_config_spare_reading_tokenizer_json(
    tokenizer: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "tok"
    tokenizer.save_pretrained(str(directory))
    before, read_before = tokenizer_reads(directory, monkeypatch)
    assert "tokenizer.json" in read_before  # what a save leaves transformers to do at each load

    assert _local.record_added_tokens(directory)
    assert not _local.record_added_tokens(directory)  # once
    config = json.loads((directory / "tokenizer_config.json").read_text())
    assert config["added_tokens_decoder"]["2"]["content"] == "<|im_end|>"
    after, read_after = tokenizer_reads(directory, monkeypatch)
    assert "tokenizer.json" not in read_after
    assert tokenized(after) == tokenized(before)


@pytest.mark.parametrize(
    ("config", "tokenizer_json"),
    [
        ("{not json", None),
        ("[1, 2]", None),
        (None, "{not json"),
        (None, '{"added_tokens": "none"}'),
        (None, '{"added_tokens": [{"content": "<x>"}]}'),
    ],
)
def test_a_tokenizer_that_cannot_be_read_is_left_as_it_is(
    tokenizer: Any, tmp_path: Path, config: str | None, tokenizer_json: str | None
) -> None:
    tokenizer.save_pretrained(str(tmp_path))
    for name, text in (("tokenizer_config.json", config), ("tokenizer.json", tokenizer_json)):
        if text is not None:
            (tmp_path / name).write_text(text)
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert not _local.record_added_tokens(tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == files


def test_a_default_model_converted_before_has_its_added_tokens_recorded(
    tokenizer: Any, cache: Path
) -> None:
    target = cache / _local.DEFAULT_NAME
    tokenizer.save_pretrained(str(target))
    (target / "model.safetensors").write_bytes(b"")  # converted: nothing is read here
    assert _local.default_model_dir() == target
    assert "added_tokens_decoder" in json.loads((target / "tokenizer_config.json").read_text())


# -- the real default model and encoder ----------------------------------------------------------


@pytest.mark.model
def test_the_default_model_read_directly_is_the_one_from_pretrained_gives() -> None:
    directory = _local.default_model_dir()
    read = _local.read_checkpoint(directory, transformers.AutoModelForCausalLM)
    assert read is not None
    assert_same_model(read, transformers.AutoModelForCausalLM.from_pretrained(str(directory)))


@pytest.mark.model
def test_the_packaged_encoder_read_directly_is_the_one_from_pretrained_gives() -> None:
    directory = _encoder.packaged_encoder().resolve()
    assert _encoder._is_packaged(directory)
    read = _local.read_checkpoint(directory, transformers.AutoModel)
    assert read is not None
    loaded = transformers.AutoModel.from_pretrained(str(directory)).eval()
    assert_same_model(read, loaded)
    texts = transformers.AutoTokenizer.from_pretrained(str(directory))(
        ["rain in Oslo", "a b"], padding=True, return_tensors="pt"
    )
    with torch.inference_mode():
        assert torch.equal(read(**texts).last_hidden_state, loaded(**texts).last_hidden_state)
