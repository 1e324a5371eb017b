"""The user's own images and clips (``--assets DIR``), matched to scenes by name or words."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .error import GenerationError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
CLIP_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"}
_STOP = set(
    "a an and are as at be but by for from has have in into is it its of on or our so "
    "that the their then there these this to was we were what when which while with "
    "you your how why can will not more most about than".split()
)


def words(text: str) -> set[str]:
    """Lower-case content words, split on anything non-alphanumeric and on camelCase."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    found = {w for w in re.split(r"[^0-9A-Za-z]+", text.lower()) if len(w) > 2}
    stems = {w[:-1] for w in found if w.endswith("s") and len(w) > 3}  # "cats" matches "cat"
    return (found | stems) - _STOP


@dataclass(frozen=True, slots=True)
class Asset:
    path: Path
    kind: str  # image | clip
    words: frozenset[str]


class AssetLibrary:
    """The files of an assets folder, indexed by the words of their names."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.assets: list[Asset] = []
        if folder is None:
            return
        if not folder.is_dir():
            raise GenerationError(f"assets folder not found: {folder}")
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            kind = _kind(path)
            if kind:
                self.assets.append(Asset(path.resolve(), kind, frozenset(words(path.stem))))

    def named(self, name: str) -> Asset | None:
        """The asset a scene names explicitly (file name, with or without suffix)."""
        target = name.strip().lower()
        for asset in self.assets:
            rel = asset.path.relative_to(self.folder.resolve()).as_posix().lower() if self.folder else ""
            if target in (asset.path.name.lower(), asset.path.stem.lower(), rel):
                return asset
        return None

    def best(self, keywords: set[str], title_words: set[str], used: set[Path]) -> Asset | None:
        """The unused asset sharing the most words (title words count double)."""
        best: tuple[int, Asset] | None = None
        for asset in self.assets:
            if asset.path in used:
                continue
            score = len(asset.words & keywords) + 2 * len(asset.words & title_words)
            if score and (best is None or score > best[0]):
                best = (score, asset)
        return best[1] if best else None


def _kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in CLIP_SUFFIXES:
        return "clip"
    return None


def looks_like_file(name: str) -> bool:
    """Whether a ``Visual:`` hint names a file (so a miss is an error, not a fallback)."""
    return _kind(Path(name.strip())) is not None


def resolve_asset(name: str, library: AssetLibrary, script_dir: Path | None) -> Asset:
    """An explicitly named asset: in the library, else relative to the script; or an error."""
    found = library.named(name)
    if found:
        return found
    for base in (script_dir, Path.cwd()):
        if base is not None and (base / name).is_file() and _kind(base / name):
            path = (base / name).resolve()
            return Asset(path, _kind(path) or "image", frozenset(words(path.stem)))
    where = f" in {library.folder}" if library.folder else " (no --assets folder given)"
    raise GenerationError(f"asset {name!r} named by the script was not found{where}")
