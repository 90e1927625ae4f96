"""YAML that remembers where every value came from, and the checks built on it.

Theory of operation
-------------------
Operators edit the registry and the sensor configuration by hand, so every
mistake must be reported as ``file:line: field: what is wrong, what is valid``.
PyYAML's ``safe_load`` forgets positions and silently keeps the last of two
equal keys, so we stop one step earlier: we *compose* the document into a node
graph (which carries line marks), and turn that graph into `Located` values
ourselves. That step

- builds scalars with PyYAML's safe constructor (ints, bools, null, ...) and
  keeps the scalar's source text too, because YAML 1.1 reads ``no`` as false
  and ``10:20:30:40:50:59`` as a base-60 integer, while a field that wants text
  (an SSID, a BSSID) wants exactly what the person typed;
- reports duplicate keys in a mapping (naming both lines) instead of keeping
  the last one;
- supports merge keys (``<<: *defaults``), explicit keys overriding merged ones;
- shares the result for a node reached through several aliases (so alias
  bombs stay linear) and rejects recursive aliases.

`Reader` holds the small set of typed accessors the schema loaders use. Each
accessor records a `Problem` and returns None instead of raising, so a loader
reports every mistake in a file in one run.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class Problem:
    """One mistake: where it is and what would be valid."""

    file: str
    line: int | None      # 1-based; None when the problem is about the whole file
    field_path: str       # e.g. facilities[0].networks[1].ssid; "" for the document
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.field_path:
            return f"{where}: {self.field_path}: {self.message}"
        return f"{where}: {self.message}"


class SourceError(Exception):
    """Validation failed; ``problems`` lists every mistake found, in file order."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


@dataclass(eq=False)
class Located:
    """A YAML value with its 1-based line.

    ``value`` is a plain scalar (str, int, float, bool, None, date...), a
    ``list[Located]`` or a ``dict[str, Located]``. ``text`` is the source text
    of a scalar (None for collections); ``key_lines`` maps each key of a
    mapping to the line it is written on. ``unreadable``: YAML could not
    build the value and a problem already says so (the accessors of `Reader`
    then return None without a second, confusing complaint).
    """

    value: Any
    line: int
    text: str | None = None
    key_lines: dict[str, int] = field(default_factory=dict)
    unreadable: bool = False

    @property
    def kind(self) -> str:
        if isinstance(self.value, dict):
            return "a mapping"
        if isinstance(self.value, list):
            return "a list"
        return describe_scalar(self.value)


def plain(node: Located) -> Any:
    """The value without positions: lists and dicts of plain values."""
    if isinstance(node.value, list):
        return [plain(item) for item in node.value]
    if isinstance(node.value, dict):
        return {key: plain(value) for key, value in node.value.items()}
    return node.value


def describe_scalar(value: Any) -> str:
    """How a value's type is named in messages."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "a true/false value"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


def parse_yaml(text: str, file: str) -> tuple[Located | None, list[Problem]]:
    """Parse one YAML document. Returns (None, []) for an empty document."""
    loader = yaml.SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            return None, [_syntax_problem(exc, file)]
        except yaml.YAMLError as exc:
            return None, [Problem(file, None, "", f"YAML error: {exc}")]
        if root is None:
            return None, []
        converter = _Converter(loader, file)
        value = converter.convert(root, "")
        return value, converter.problems
    finally:
        loader.dispose()


def by_line(problems: Iterable[Problem]) -> list[Problem]:
    """Problems of one file in reading order (stable for equal lines)."""
    return sorted(problems, key=lambda p: p.line or 0)


def load_yaml(path: Path, display: str | None = None) -> tuple[Located | None, list[Problem]]:
    """Read and parse a file; unreadable or non-UTF-8 files become problems."""
    name = display if display is not None else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(name, None, "", f"not UTF-8 text (byte {exc.start}); "
                                             "save the file as UTF-8")]
    except OSError as exc:
        return None, [Problem(name, None, "", exc.strerror or str(exc))]
    return parse_yaml(text, name)


def _syntax_problem(exc: yaml.MarkedYAMLError, file: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    what = exc.problem or "syntax error"
    if exc.context:
        what = f"{what} ({exc.context}"
        if exc.context_mark is not None and exc.problem_mark is not None \
                and exc.context_mark.line != exc.problem_mark.line:
            what += f" on line {exc.context_mark.line + 1}"
        what += ")"
    if mark is None:
        return Problem(file, None, "", f"YAML syntax error: {what}")
    return Problem(file, mark.line + 1, "", f"YAML syntax error: {what}, column {mark.column + 1}")


class _Converter:
    """Node graph -> Located values, reporting duplicate keys on the way."""

    def __init__(self, loader: yaml.SafeLoader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.problems: list[Problem] = []
        self._done: dict[int, Located] = {}
        self._active: set[int] = set()

    def convert(self, node: Node, path: str) -> Located:
        done = self._done.get(id(node))
        if done is not None:
            return done
        line = node.start_mark.line + 1
        if id(node) in self._active:
            self.problems.append(Problem(self.file, line, path, "an alias refers to itself"))
            return Located(None, line)
        self._active.add(id(node))
        try:
            if isinstance(node, ScalarNode):
                result = self._scalar(node, path)
            elif isinstance(node, SequenceNode):
                result = Located([self.convert(item, f"{path}[{i}]")
                                  for i, item in enumerate(node.value)], line)
            else:
                result = self._mapping(node, path)
        finally:
            self._active.discard(id(node))
        self._done[id(node)] = result
        return result

    def _scalar(self, node: ScalarNode, path: str) -> Located:
        line = node.start_mark.line + 1
        if _has_surrogate(node.value):
            self.problems.append(Problem(self.file, line, path, _SURROGATE_MESSAGE))
            return Located(None, line, unreadable=True)
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self.problems.append(Problem(self.file, line, path,
                                         f"cannot read this value: {getattr(exc, 'problem', exc)}"))
            return Located(None, line, text=node.value, unreadable=True)
        except (ValueError, OverflowError) as exc:
            # A plain scalar that YAML 1.1 resolves to a date, time or number
            # the constructor then refuses (2024-13-45): datetime raises
            # ValueError, not a YAMLError.
            self.problems.append(Problem(
                self.file, line, path,
                f"cannot read '{node.value}' as the {_kind_of_tag(node.tag)} YAML takes it for "
                f"({exc}); put it in quotes if it is text"))
            return Located(None, line, text=node.value, unreadable=True)
        return Located(value, line, text=node.value)

    def _mapping(self, node: MappingNode, path: str) -> Located:
        line = node.start_mark.line + 1
        values: dict[str, Located] = {}
        key_lines: dict[str, int] = {}
        merged: dict[str, Located] = {}
        merged_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE_TAG:
                self._merge(value_node, path, merged, merged_lines)
                continue
            if not isinstance(key_node, ScalarNode):
                self.problems.append(Problem(self.file, key_line, path,
                                             "a key must be a plain word, not a list or mapping"))
                continue
            key = key_node.value
            if _has_surrogate(key):
                self.problems.append(Problem(self.file, key_line, path, _SURROGATE_MESSAGE))
                continue
            child = _join(path, key)
            if key in values:
                self.problems.append(Problem(
                    self.file, key_line, child,
                    f"duplicate key '{key}'; it is already set on line {key_lines[key]} "
                    "(YAML would silently keep only the last one)"))
                continue
            values[key] = self.convert(value_node, child)
            key_lines[key] = key_line
        for key, value in merged.items():
            if key not in values:
                values[key] = value
                key_lines[key] = merged_lines[key]
        return Located(values, line, key_lines=key_lines)

    def _merge(self, node: Node, path: str, into: dict[str, Located],
               lines: dict[str, int]) -> None:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        for source in sources:
            if not isinstance(source, MappingNode):
                self.problems.append(Problem(self.file, source.start_mark.line + 1, path,
                                             "'<<' merges mappings only"))
                continue
            located = self.convert(source, path)
            if not isinstance(located.value, dict):
                continue
            for key, value in located.value.items():
                if key not in into:  # the first merged mapping wins, as in YAML
                    into[key] = value
                    lines[key] = located.key_lines.get(key, located.line)


_SURROGATE_MESSAGE = ("a \\uD800-\\uDFFF escape is half of a UTF-16 pair, not a character; "
                      "write the character itself or its \\U0001xxxx escape")


def _has_surrogate(text: str) -> bool:
    """A double-quoted ``"\\ud800"`` gives a lone surrogate, which no file,
    log line or terminal can carry (encoding it to UTF-8 raises)."""
    return not text.isascii() and any("\ud800" <= ch <= "\udfff" for ch in text)


def _kind_of_tag(tag: str) -> str:
    """``tag:yaml.org,2002:timestamp`` -> ``date``, for messages."""
    name = tag.rsplit(":", 1)[-1]
    return {"timestamp": "date", "int": "number", "float": "decimal number"}.get(name, name)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def suggest(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for a close match, else ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class Reader:
    """Typed accessors over `Located` values that record problems instead of raising."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, line: int | None, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, line, path, message))

    def mapping(self, node: Located, path: str, required: tuple[str, ...],
                optional: tuple[str, ...] = ()) -> dict[str, Located] | None:
        """The mapping's entries, after reporting unknown and missing keys.

        Only known keys are returned; missing required keys are simply absent.
        """
        if node.unreadable:
            return None
        if not isinstance(node.value, dict):
            self.problem(node.line, path, f"expected a mapping of {', '.join(required + optional)}; "
                                          f"got {node.kind}")
            return None
        valid = required + optional
        known: dict[str, Located] = {}
        for key, value in node.value.items():
            if key in valid:
                known[key] = value
                continue
            self.problem(node.key_lines.get(key, node.line), _join(path, key),
                         f"unknown key '{key}'{suggest(key, valid)}; valid keys: {', '.join(valid)}")
        for key in required:
            if key not in node.value:
                self.problem(node.line, path, f"missing required key '{key}'")
        return known

    def string(self, node: Located, path: str, *, allow_empty: bool = False) -> str | None:
        """Text as typed: a plain scalar that YAML read as a number or boolean
        (``no``, ``0123``) is taken as the text written."""
        if node.unreadable:
            return None
        if isinstance(node.value, (dict, list)):
            self.problem(node.line, path, f"expected text; got {node.kind}")
            return None
        if node.value is None and not node.text:
            if allow_empty:
                return ""
            self.problem(node.line, path, "expected text; got an empty value")
            return None
        text = node.value if isinstance(node.value, str) else node.text
        if not text and not allow_empty:
            self.problem(node.line, path, "must not be empty")
            return None
        return text

    def integer(self, node: Located, path: str, low: int, high: int | None = None) -> int | None:
        if node.unreadable:
            return None
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(node.line, path, f"expected a whole number; got {_shown(node)}")
            return None
        if value < low or (high is not None and value > high):
            limit = f"{low}-{high}" if high is not None else f"{low} or more"
            self.problem(node.line, path, f"{value} is out of range; valid: {limit}")
            return None
        return value

    def number(self, node: Located, path: str, low: float | None = None) -> float | None:
        if node.unreadable:
            return None
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.problem(node.line, path, f"expected a number; got {_shown(node)}")
            return None
        if low is not None and value < low:
            self.problem(node.line, path, f"{value} is out of range; valid: {low:g} or more")
            return None
        return float(value)

    def boolean(self, node: Located, path: str) -> bool | None:
        if node.unreadable:
            return None
        if not isinstance(node.value, bool):
            self.problem(node.line, path, f"expected true or false; got {_shown(node)}")
            return None
        return node.value

    def sequence(self, node: Located, path: str, example: str) -> list[Located] | None:
        """A list; ``example`` shows the expected shape, e.g. ``[1, 6, 11]``."""
        if node.unreadable:
            return None
        if not isinstance(node.value, list):
            self.problem(node.line, path, f"expected a list like {example}; got {_shown(node)}")
            return None
        return node.value

    def choice(self, node: Located, path: str, choices: tuple[str, ...], what: str) -> str | None:
        text = self.string(node, path)
        if text is None:
            return None
        if text not in choices:
            self.problem(node.line, path, f"'{text}' is not a {what}{suggest(text, choices)}; "
                                          f"valid: {', '.join(choices)}")
            return None
        return text


def _shown(node: Located) -> str:
    """A value's kind, with the value itself when it is a short scalar."""
    if isinstance(node.value, (dict, list)) or node.value is None:
        return node.kind
    text = node.text if node.text is not None else str(node.value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{node.kind} '{text}'"
