#!/usr/bin/env python3
"""Writes the golden fixtures under Tests/Fixtures from the Python references (PyTorch, transformers,
sentencepiece, tokenizers). Needs `scripts/setup.sh --train`; run as `.venv/bin/python scripts/make_fixtures.py`.

Each part lives in scripts/fixtures/<part>.py and exposes `make(out_dir: pathlib.Path)`. The outputs are
committed; the Swift tests read them and need no Python.

    make_fixtures.py              every part
    make_fixtures.py models       one part (models, tokenizers, bundles, ...)
"""
import importlib.util
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests" / "Fixtures"
PARTS_DIR = ROOT / "scripts" / "fixtures"


def main(argv):
    available = sorted(p.stem for p in PARTS_DIR.glob("*.py") if not p.stem.startswith("_"))
    wanted = argv or available
    unknown = [w for w in wanted if w not in available]
    if unknown:
        print(f"make_fixtures: unknown part(s) {unknown}; available: {available}", file=sys.stderr)
        return 64
    # Appended, not prepended, and each part loaded under a prefixed name: a part may share its name with the
    # package it exercises (tokenizers.py uses the `tokenizers` package), which must stay importable.
    sys.path.append(str(PARTS_DIR))
    for name in wanted:
        print(f"make_fixtures: {name} -> {FIXTURES / name}", flush=True)
        spec = importlib.util.spec_from_file_location(f"l2s_fixture_{name}", PARTS_DIR / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.make(FIXTURES / name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
