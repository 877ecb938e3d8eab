"""Export every contract's JSON Schema to schemas/json/, or check that the export is current.

    python -m rft_schemas.export            # write
    python -m rft_schemas.export --check    # exit 1 when a file is stale or missing
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import BaseModel

import rft_schemas

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "json"


def exported_models() -> dict[str, type[BaseModel]]:
    models: dict[str, type[BaseModel]] = {}
    for name in rft_schemas.__all__:
        obj = getattr(rft_schemas, name)
        if isinstance(obj, type) and issubclass(obj, BaseModel) and name not in {
            "Contract",
            "Passthrough",
        }:
            models[name] = obj
    return models


def render(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n"


def stale_files(out_dir: Path) -> list[str]:
    expected = {f"{name}.json": render(model) for name, model in exported_models().items()}
    stale = [f for f, text in expected.items() if not (out_dir / f).is_file()
             or (out_dir / f).read_text() != text]
    extra = [p.name for p in out_dir.glob("*.json") if p.name not in expected]
    return sorted(stale + extra)


def write(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    expected = {f"{name}.json": render(model) for name, model in exported_models().items()}
    for p in out_dir.glob("*.json"):
        if p.name not in expected:
            p.unlink()
    for fname, text in expected.items():
        (out_dir / fname).write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.dir)
        if stale:
            print("stale JSON Schema exports (run `python -m rft_schemas.export`):", *stale,
                  sep="\n  ")
            return 1
        return 0
    write(args.dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
