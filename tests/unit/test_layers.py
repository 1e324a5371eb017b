"""The dependency rule of the architecture, checked on the import statements.

audio and protocol import nothing else of ours; core imports only protocol and audio;
backends import only audio (and their own package); runtime imports core, backends,
protocol, audio. Everything else sits on top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "openrealtime"
ALLOWED = {
    "audio": {"audio"},
    "protocol": {"protocol"},
    "core": {"core", "protocol", "audio"},
    "backends": {"backends", "audio"},
    "runtime": {"runtime", "core", "backends", "protocol", "audio"},
}


def our_imports(path: Path, layer: str) -> set[str]:
    """Top-level subpackages of openrealtime that ``path`` imports."""
    found: set[str] = set()
    package = path.relative_to(SRC).parts[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                target = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.startswith("openrealtime."):
                target = node.module.split(".")[1:]
            else:
                continue
            if target:
                found.add(target[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("openrealtime."):
                    found.add(alias.name.split(".")[1])
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    for path in sorted((SRC / layer).rglob("*.py")):
        extra = our_imports(path, layer) - ALLOWED[layer]
        assert not extra, f"{path.relative_to(SRC)} imports {sorted(extra)}"
