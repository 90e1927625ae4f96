"""Captured bytes -> `Frame`, counting everything that is not handed on.

Theory of operation
-------------------
`Decoder.decode` is the one entry point of the hot path: link-layer header
(`linklayer`), then the frame control field. A mixed capture is mostly data
frames, so in radiotap they leave after reading the header length and the
frame control byte, counted by type, before any radiotap field is parsed.
Management frames become a `Frame` (`dot11.decode_management`), with the
radio fields copied from the link-layer tuple.

Nothing raises out of `decode`: reasons are counted in ``malformed`` and the
frame is dropped (link-layer or header problems) or handed on decoded as far
as it is sound (a bad element region: ``Frame.elements.malformed`` is set and
its reason counted once for this frame). As a last line of defence a
``struct.error``/``IndexError``/``ValueError`` that an explicit check missed
is counted as ``'decode_error'``.

``frames`` counts every input frame by kind: the management kinds of
`frame.py`, ``'mgmt_other'``, ``'action_other'``, ``'data'``, ``'control'``,
``'extension'``, and ``'malformed'`` for frames dropped for a reason.
"""

from __future__ import annotations

import os
import struct
from collections import Counter
from typing import Iterator

from .capfile import CaptureReader, open_capture
from .dot11 import decode_management
from .frame import Frame
from .linklayer import FLAG_BAD_FCS, FLAG_FCS_AT_END, PARSERS

_TYPE_KIND = {0x04: "control", 0x08: "data", 0x0C: "extension"}


class Decoder:
    """Decodes frames of any supported link type; keeps the counts."""

    def __init__(self) -> None:
        self.frames: Counter[str] = Counter()
        self.malformed: Counter[str] = Counter()
        # Packets the capture reader did not deliver (decode_file only).
        self.skipped: Counter[str] = Counter()

    def decode(self, data: bytes, linktype: int, ts_ns: int, number: int) -> Frame | None:
        """One captured packet -> a `Frame` for the management kinds we use, else None.

        ``data`` may be any bytes-like object; element bytes become cache keys,
        so anything but ``bytes`` is copied once.
        """
        if data.__class__ is not bytes:
            data = bytes(data)
        if linktype == 127 and len(data) > 8:
            # Fast exit for the majority: data, control and extension frames
            # are counted by type without parsing a radiotap field (so a
            # data frame flagged bad-FCS counts as data; nothing uses it).
            it_len = data[2] | data[3] << 8
            if 8 <= it_len < len(data):
                fc0 = data[it_len]
                if fc0 & 0x0C and not fc0 & 0x03:
                    self.frames[_TYPE_KIND[fc0 & 0x0C]] += 1
                    return None
        try:
            parser = PARSERS.get(linktype)
            if parser is None:
                return self._drop("unsupported_linktype")
            link = parser(data)
            if link.__class__ is str:
                return self._drop(link)  # type: ignore[arg-type]
            off = link[0]
            end = len(data)
            flags = link[2]
            if flags:
                if flags & FLAG_BAD_FCS:
                    return self._drop("bad_fcs")
                if flags & FLAG_FCS_AT_END:
                    end -= 4
            if end - off < 10:
                return self._drop("truncated_80211")
            fc0 = data[off]
            if fc0 & 0x0F:
                if fc0 & 0x03:
                    return self._drop("bad_version")
                self.frames[_TYPE_KIND[fc0 & 0x0C]] += 1
                return None
            frame = decode_management(data, off, end, link, number, ts_ns)
            if frame.__class__ is str:
                if frame == "mgmt_other" or frame == "action_other":
                    self.frames[frame] += 1  # type: ignore[index]
                    return None
                return self._drop(frame)  # type: ignore[arg-type]
            self.frames[frame.kind] += 1  # type: ignore[union-attr]
            elements = frame.elements  # type: ignore[union-attr]
            if elements is not None and elements.malformed is not None:
                self.malformed[elements.malformed] += 1
            return frame  # type: ignore[return-value]
        except (struct.error, IndexError, ValueError):
            return self._drop("decode_error")

    def _drop(self, reason: str) -> None:
        self.frames["malformed"] += 1
        self.malformed[reason] += 1
        return None

    def decode_file(self, path: str | os.PathLike[str]) -> Iterator[Frame]:
        """Every `Frame` of a capture file, in order (raises `CaptureFileError`
        on unusable files, before the first frame)."""
        reader = open_capture(path)
        return self._frames_of(reader)

    def _frames_of(self, reader: CaptureReader) -> Iterator[Frame]:
        decode = self.decode
        with reader:
            try:
                for number, ts_ns, linktype, data in reader:
                    frame = decode(data, linktype, ts_ns, number)
                    if frame is not None:
                        yield frame
            finally:
                self.skipped.update(reader.skipped)
