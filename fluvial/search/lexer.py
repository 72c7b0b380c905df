"""Tokenizer shared by the filter and order_by grammars.

Token kinds:
    IDENT   a bare word, or dotted segments (``tags.mlflow.runName``, ``metrics.`a b```, ``tags."x"``);
            ``segments`` holds each segment's raw text, quotes included
    STRING  a quoted literal; ``quote`` is ``'`` or ``"`` and ``value`` the text between the quotes,
            verbatim (a lone ``"x"`` may also serve as an identifier)
    NUMBER  ``1``, ``-1``, ``0.5``, ``.5``, ``1.``, ``1e-3``
    OP      ``=`` ``!=`` ``<>`` ``==`` ``<`` ``<=`` ``>`` ``>=``
    LPAREN RPAREN COMMA SEMI
    OTHER   any other single character
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fluvial.exceptions import InvalidParameterValue, MlflowException

_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"\w+")
_OPERATORS = ("!=", "<>", "==", "<=", ">=", "=", "<", ">")
_PUNCT = {"(": "LPAREN", ")": "RPAREN", ",": "COMMA", ";": "SEMI"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int
    value: str = ""
    quote: str = ""
    segments: tuple[str, ...] = ()

    def is_word(self, *words: str) -> bool:
        """True for an unquoted single-segment identifier equal (case-insensitively) to one of ``words``."""
        return (
            self.kind == "IDENT"
            and len(self.segments) == 1
            and self.text[:1] not in "`\""
            and self.text.upper() in words
        )


class LexError(Exception):
    """Raised with the position and the raw text of the token that could not be read."""

    def __init__(self, pos: int, text: str) -> None:
        super().__init__(text)
        self.pos = pos
        self.text = text


def error(message: str, pos: int = -1) -> MlflowException:
    """An ``InvalidParameterValue`` whose ``position`` attribute points at the bad token (or -1)."""
    exc = InvalidParameterValue(message)
    exc.position = pos  # type: ignore[attr-defined]
    return exc


def _scan_quoted(source: str, start: int, quote: str) -> int:
    """Index just past the closing quote of the literal opening at ``start``."""
    i = start + 1
    n = len(source)
    while i < n:
        ch = source[i]
        if ch == "\\" and quote != "`" and i + 1 < n:
            i += 2
            continue
        if ch == quote:
            if quote != "`" and i + 1 < n and source[i + 1] == quote:
                i += 2  # doubled quote
                continue
            return i + 1
        i += 1
    raise LexError(start, source[start:])


def _segment_end(source: str, i: int) -> int | None:
    """End of the identifier segment starting at ``i``, or None if no segment starts there."""
    if i >= len(source):
        return None
    ch = source[i]
    if ch in "`\"'":
        return _scan_quoted(source, i, ch)
    m = _WORD.match(source, i)
    return m.end() if m else None


def tokenize(source: str) -> list[Token]:
    """Split ``source`` into tokens; raises :class:`LexError` on an unterminated quote or a bad dot."""
    tokens: list[Token] = []
    i = 0
    n = len(source)
    while i < n:
        ch = source[i]
        if ch.isspace():
            i += 1
            continue
        start = i
        number = _NUMBER.match(source, i)
        if number and (ch.isdigit() or ch in "-."):
            end = number.end()
            if end < n and (source[end].isalnum() or source[end] in "_."):
                raise LexError(start, source[start : _until_space(source, end)])
            tokens.append(Token("NUMBER", source[start:end], start))
            i = end
            continue
        if ch == "'" or ch == '"' or ch == "`" or _WORD.match(source, i):
            tokens.append(_identifier_or_string(source, start))
            i = start + len(tokens[-1].text)
            continue
        op = next((o for o in _OPERATORS if source.startswith(o, i)), None)
        if op:
            tokens.append(Token("OP", op, start))
            i += len(op)
            continue
        tokens.append(Token(_PUNCT.get(ch, "OTHER"), ch, start))
        i += 1
    return tokens


def _until_space(source: str, i: int) -> int:
    while i < len(source) and not source[i].isspace():
        i += 1
    return i


def _identifier_or_string(source: str, start: int) -> Token:
    first_end = _segment_end(source, start)
    assert first_end is not None
    segments = [source[start:first_end]]
    end = first_end
    first_quote = source[start] if source[start] in "'\"" else ""
    # A single-quoted literal never starts an identifier; the others may be followed by ``.segment``.
    while first_quote != "'" and end < len(source) and source[end] == ".":
        seg_end = _segment_end(source, end + 1)
        if seg_end is None:
            raise LexError(start, source[start : _until_space(source, end + 1)])
        segments.append(source[end + 1 : seg_end])
        end = seg_end
    text = source[start:end]
    if len(segments) == 1 and first_quote:
        return Token("STRING", text, start, value=text[1:-1], quote=first_quote)
    return Token("IDENT", text, start, segments=tuple(segments))
