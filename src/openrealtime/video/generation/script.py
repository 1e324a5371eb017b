"""Parse a script (plain text or Markdown) into scene drafts.

Rules, kept small so a person can predict them:

* Headings (``#``, ``##``, ...) start scenes; the heading text is the scene's on-screen
  title. Without headings, every blank-line separated paragraph is a scene.
* Paragraph text is the narration (Markdown emphasis, links and list bullets stripped).
* ``![alt](file.jpg)`` or a line ``Visual: words`` name the scene's visual (an asset file
  name or keywords to match against ``--assets``).
* A fenced block ```` ```chart ```` with ``Label: number`` lines, or a two-column Markdown
  table whose second column is numeric, becomes a bar chart (``title: ...`` sets its title).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .error import GenerationError

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)[^)]*\)")
_VISUAL = re.compile(r"^\s*visual\s*:\s*(.+)$", re.IGNORECASE)
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(.+?)\1")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_NUMBER = re.compile(r"^[-+]?\d[\d,]*(?:\.\d+)?\s*%?$")


@dataclass(slots=True)
class Chart:
    """Bar chart data from the script."""

    labels: list[str]
    values: list[float]
    title: str = ""
    unit: str = ""


@dataclass(slots=True)
class SceneDraft:
    """One scene as written in the script, before timing and visuals are decided."""

    title: str = ""
    narration: str = ""
    visual: str = ""  # asset file name or keywords, "" when the script says nothing
    chart: Chart | None = None
    level: int = 0  # heading level (1 for "# Title"), 0 for a paragraph scene


@dataclass(slots=True)
class _Builder:
    drafts: list[SceneDraft] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def parse_script(text: str) -> list[SceneDraft]:
    """Split ``text`` into scenes; raise :class:`GenerationError` when nothing is usable."""
    if "\x00" in text:
        raise GenerationError("the script is not a text file")
    blocks = _split_fences(text)
    has_headings = any(kind == "text" and any(_HEADING.match(ln) for ln in body.splitlines())
                       for kind, body in blocks)
    drafts: list[SceneDraft] = []
    current = SceneDraft()
    for kind, body in blocks:
        if kind == "chart":
            current.chart = _parse_chart_lines(body.splitlines())
            continue
        if kind != "text":
            continue  # other fenced code is not narrated
        for paragraph in _paragraphs(body):
            heading = _HEADING.match(paragraph[0])
            if heading:
                _flush(drafts, current)
                current = SceneDraft(title=_plain(heading.group(2)), level=len(heading.group(1)))
                paragraph = paragraph[1:]
                if not paragraph:
                    continue
            elif not has_headings:
                _flush(drafts, current)
                current = SceneDraft()
            _absorb(current, paragraph)
    _flush(drafts, current)
    if not drafts:
        raise GenerationError("the script has no scenes: write some narration text")
    if not any(d.narration for d in drafts):
        raise GenerationError("the script has no narration text, only headings or data")
    return drafts


def _flush(drafts: list[SceneDraft], draft: SceneDraft) -> None:
    if draft.title or draft.narration or draft.chart or draft.visual:
        drafts.append(draft)


def _split_fences(text: str) -> list[tuple[str, str]]:
    """[(kind, body)]: kind is "text", "chart" or "code" for ``` fenced blocks."""
    out: list[tuple[str, str]] = []
    parts = re.split(r"^```[ \t]*(\w*)[^\n]*\n(.*?)^```[ \t]*$", text, flags=re.M | re.S)
    out.append(("text", parts[0]))
    for i in range(1, len(parts) - 1, 3):
        out.append(("chart" if parts[i].lower() == "chart" else "code", parts[i + 1]))
        out.append(("text", parts[i + 2]))
    return out


def _paragraphs(body: str) -> list[list[str]]:
    """Blank-line separated groups of lines; a heading line is its own group."""
    groups: list[list[str]] = [[]]
    for line in body.splitlines():
        if not line.strip():
            groups.append([])
        elif _HEADING.match(line):
            groups.extend([[line], []])
        else:
            groups[-1].append(line)
    return [g for g in groups if g]


def _absorb(draft: SceneDraft, lines: list[str]) -> None:
    """Add one paragraph's narration, visual hints or table chart to ``draft``."""
    if _table_chart(lines, draft):
        return
    words: list[str] = []
    for line in lines:
        visual = _VISUAL.match(line)
        if visual:
            draft.visual = visual.group(1).strip()
            continue
        for alt, path in _IMAGE.findall(line):
            draft.visual = path or alt
        line = _IMAGE.sub("", line)
        if line.strip():
            words.append(_plain(_BULLET.sub("", line)))
    text = " ".join(w for w in words if w)
    if text:
        draft.narration = f"{draft.narration} {text}".strip()


def _plain(text: str) -> str:
    """Markdown inline formatting removed, whitespace collapsed."""
    text = _LINK.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\2", text)
    return " ".join(text.split())


def _table_chart(lines: list[str], draft: SceneDraft) -> bool:
    rows = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in lines]
    if len(rows) < 3 or not all(ln.lstrip().startswith("|") for ln in lines):
        return False
    header, body = rows[0], [r for r in rows[1:] if not set("".join(r)) <= set("-: ")]
    if len(header) < 2 or not body or not all(len(r) >= 2 and _NUMBER.match(r[1]) for r in body):
        return False
    draft.chart = _chart([(r[0], r[1]) for r in body], title=header[1])
    return True


def _parse_chart_lines(lines: list[str]) -> Chart:
    title, pairs = "", []
    for line in lines:
        if not line.strip():
            continue
        label, sep, value = line.rpartition(":")
        if not sep:
            raise GenerationError(f"chart line {line.strip()!r}: expected 'Label: number'")
        if label.strip().lower() == "title":
            title = value.strip()
            continue
        pairs.append((_BULLET.sub("", label).strip(), value.strip()))
    return _chart(pairs, title=title)


def _chart(pairs: list[tuple[str, str]], *, title: str) -> Chart:
    if not pairs:
        raise GenerationError("a chart block has no 'Label: number' lines")
    values: list[float] = []
    unit = "%" if any(v.endswith("%") for _, v in pairs) else ""
    for label, raw in pairs:
        if not _NUMBER.match(raw):
            raise GenerationError(f"chart value for {label!r} is not a number: {raw!r}")
        values.append(float(raw.replace(",", "").replace("%", "").strip()))
    return Chart(labels=[p[0] for p in pairs], values=values, title=title, unit=unit)
