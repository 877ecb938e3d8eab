"""The sanitizer must never pull torch: the whole batch path, tokenizer included, runs without
importing it (or transformers)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.sanitizer.conftest import DATA


def test_sanitizing_real_data_imports_neither_torch_nor_transformers(tmp_path: Path):
    script = f"""
import sys
from pathlib import Path
from rft_sanitizer import SanitizerSettings, sanitize_files
# auto: the semantic closing test runs MiniLM by ONNX Runtime where the export exists
settings = SanitizerSettings(data_dir=Path({str(tmp_path)!r}), closing_test="auto")
report = sanitize_files([Path({str(DATA / "toy_chat_fine_tuning.jsonl")!r})],
                        Path({str(tmp_path / "out")!r}), settings)
assert report.valid == 4, report
leaked = sorted(m for m in ("torch", "transformers") if m in sys.modules)
print("leaked:", leaked)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "leaked: []" in done.stdout
