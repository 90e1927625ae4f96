"""Turning attacker-controlled octets into text that is safe to show.

An SSID is up to 32 arbitrary octets. People need to read it, and nothing
downstream (a terminal, a log line, a YAML file, a web page) may be broken by
it. `printable_ssid` gives one line of text: valid UTF-8 is kept as such
(a Japanese SSID stays readable), while control characters, invisible and
bidirectional formatting characters, backslashes and undecodable bytes are
written as escapes, so the result is unambiguous and can be turned back into
the octets with `ssid_from_printable`.
"""

from __future__ import annotations

import re
import unicodedata

# Categories shown as escapes: controls, formatting (zero-width, bidi
# overrides), surrogates, private use, unassigned, and line/paragraph
# separators. Spaces other than U+0020 are escaped too, because a person
# cannot tell them apart.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})

_cache: dict[bytes, str] = {}
_CACHE_CAP = 4096


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if code < 0x80:  # \xNN above 0x7f is reserved for undecodable octets
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable_ssid(raw: bytes | None) -> str:
    """One printable line for an SSID; ``""`` for a hidden (empty or absent) SSID."""
    if not raw:
        return ""
    text = _cache.get(raw)
    if text is not None:
        return text
    parts: list[str] = []
    rest = raw
    while rest:
        try:
            decoded = rest.decode("utf-8")
            rest = b""
        except UnicodeDecodeError as exc:
            decoded = rest[:exc.start].decode("utf-8")
            bad = rest[exc.start:exc.end]
            rest = rest[exc.end:]
            parts.extend(_clean(decoded))
            parts.extend(f"\\x{b:02x}" for b in bad)
            continue
        parts.extend(_clean(decoded))
    text = "".join(parts)
    if len(_cache) >= _CACHE_CAP:
        _cache.clear()
    _cache[raw] = text
    return text


def _clean(decoded: str) -> list[str]:
    out = []
    for ch in decoded:
        if ch == "\\":
            out.append("\\\\")
        elif ch != " " and unicodedata.category(ch) in _ESCAPED_CATEGORIES:
            out.append(_escape_char(ch))
        else:
            out.append(ch)
    return out


_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})")


def ssid_from_printable(text: str) -> bytes:
    """Inverse of `printable_ssid`: escapes back to the original octets."""
    out = bytearray()
    pos = 0
    for match in _ESCAPE.finditer(text):
        out += text[pos:match.start()].encode("utf-8")
        token = match.group(1)
        if token == "\\":
            out += b"\\"
        elif token[0] == "x":
            out.append(int(token[1:], 16))
        else:
            out += chr(int(token[1:], 16)).encode("utf-8")
        pos = match.end()
    out += text[pos:].encode("utf-8")
    return bytes(out)
