"""The last few raw frames of every transmitter, for evidence captures.

Theory of operation
-------------------
The engine sees decoded `Frame` records only; an evidence pcap needs the
bytes as captured. So the shells (``replay_files``, the daemon's
``_process``) hand every decoded management frame to `FrameRecorder.record`
*before* the engine judges it, together with its raw bytes and link type.
When an alert opens, the frame that completed its evidence is therefore
already here, next to the ones before it.

- **Per address, two rings.** Each address has a ring of its last `RING`
  advertisements (beacons, probe responses) and, made on first use, a ring
  of its last `RING` other management frames (authentication and
  association responses, deauthentication, disassociation). Two rings,
  because an AP beacons ten times a second: in one shared ring its beacons
  would push out the slow deauthentication flood that the alert is about.
- **Never clients' own frames** (data minimisation): probe requests and
  association requests are never kept, nor any other frame whose
  transmitter (addr2) is not its BSSID (addr3), such as a phone's
  authentication request, except beacons and probe responses (forged
  ones differ in addr2 and addr3) and deauthentications and
  disassociations (the forged half of a deauth flood carries a client's
  address as transmitter; `pcapfile` cuts it to header and reason code).
  Evidence is always the offender's frames (`frames_of` its BSSID), so a
  phone's frames under its own address, with the names it asks for, would
  be personal data held for nothing. The same test as rogue_hardware's
  ``_sent_by_ap``.
- **Which address.** A frame is kept under its transmitter (addr2). A
  beacon, probe response, deauthentication or disassociation whose BSSID
  (addr3) is another unicast address is kept under that BSSID too: forged
  frames "to the AP" carry a client's address as transmitter, and forged
  beacons sometimes differ in addr2 and addr3.
- **Never kept** either: frames with the Protected bit (an encrypted body
  is payload), action frames (their bodies may carry other stations'
  addresses: fast-transition and neighbour-report frames do) and
  reassociation requests (their body names the previous AP). Data and
  control frames never get here: the decoder makes no `Frame` of them.

Bounded: at most ``max_addresses`` addresses (least recently heard evicted
first) and ``max_bytes`` in all, counted as each frame's length plus
`FRAME_COST` and each address's `ADDRESS_COST` (generous estimates of the
Python objects around them). With the defaults (4,096 addresses, 8 MiB) the
heap the recorder holds, table included, stays under 8 MiB whatever arrives:
tracemalloc measured 5.9 MiB after 100,000 beacons from random BSSIDs
(300-byte frames: the table full of one-frame entries) and 7.6 MiB with 500
transmitters' rings full (tests/test_evidence.py checks the flood case). A
flood churns the table; a transmitter heard again moves to the recent end,
so an evil twin beaconing ten times a second inside the flood keeps its
frames.

Hot path: one dict lookup, one ``move_to_end``, a tuple, a deque append and
a few integer operations per frame: about 1.4 us per management frame on
the development VM (README, "Evidence captures"). Not thread-safe: the
capture loop records and the evidence sink reads, both on the capture
thread.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Iterable

from ..decoding.frame import (
    ASSOC_RESP, AUTH, BEACON, DEAUTH, DISASSOC, PROBE_RESP, REASSOC_RESP, Frame,
)

RING = 32                      # frames per ring (advertisements; other frames)
MAX_ADDRESSES = 4096
MAX_BYTES = 8 << 20
FRAME_COST = 160               # bytes object header, the 4-tuple, the ring slot
ADDRESS_COST = 1400            # key, entry list, one deque block, OrderedDict node

# kind -> ring (0: advertisements, 1: other frames); kinds not listed are never kept
# (probe and association requests: only clients send them).
SLOT = {BEACON: 0, PROBE_RESP: 0, AUTH: 1, DEAUTH: 1, DISASSOC: 1, ASSOC_RESP: 1,
        REASSOC_RESP: 1}
# Ring-1 kinds kept although their transmitter is not their BSSID (module notes).
FROM_CLIENTS = frozenset({DEAUTH, DISASSOC})
# Kinds also kept under their BSSID (addr3) when it differs from the transmitter.
ALSO_UNDER_BSSID = frozenset({BEACON, PROBE_RESP, DEAUTH, DISASSOC})

# One kept frame: (capture time ns, kind, link type, raw bytes as captured).
Record = tuple[int, str, int, bytes]


class FrameRecorder:
    """Recent raw management frames per address (see the module notes)."""

    def __init__(self, max_addresses: int = MAX_ADDRESSES, max_bytes: int = MAX_BYTES,
                 ring: int = RING) -> None:
        if max_addresses < 1 or ring < 1 or max_bytes < ADDRESS_COST + FRAME_COST:
            raise ValueError("FrameRecorder: max_addresses and ring must be positive, "
                             "max_bytes enough for one frame")
        self.max_addresses = max_addresses
        self.max_bytes = max_bytes
        self.ring = ring
        # address -> [advertisements ring, other frames ring or None]
        self._table: OrderedDict[bytes, list] = OrderedDict()
        self.bytes = 0          # accounted size (see the module notes)
        self.evicted = 0        # addresses dropped to stay within the bounds

    def __len__(self) -> int:
        return len(self._table)

    # -- hot path ---------------------------------------------------------------------
    def record(self, frame: Frame, data: bytes, linktype: int, _slot=SLOT.get,
               _also=ALSO_UNDER_BSSID, _from_clients=FROM_CLIENTS) -> None:
        """Keep ``data`` (the frame as captured, ``linktype`` its link header)."""
        kind = frame.kind
        slot = _slot(kind)
        if slot is None or frame.protected:
            return
        ta = frame.addr2
        a3 = frame.addr3
        if slot and ta != a3 and kind not in _from_clients:
            return                              # a client's own frame (module notes)
        item = (frame.ts_ns, kind, linktype, data)
        table = self._table
        entry = table.get(ta)
        if entry is None:
            entry = self._add(ta)
        else:
            table.move_to_end(ta)
        ring = entry[slot]
        if ring is None:
            ring = entry[slot] = deque(maxlen=self.ring)
            self.bytes += ADDRESS_COST // 2
        if len(ring) == ring.maxlen:
            self.bytes += len(data) - len(ring[0][3])
        else:
            self.bytes += len(data) + FRAME_COST
        ring.append(item)
        if a3 != ta and kind in _also and a3 is not None and not a3[0] & 1:
            self._put(a3, slot, item)
        if self.bytes > self.max_bytes:
            self._shrink()

    # -- the rest ---------------------------------------------------------------------
    def _add(self, addr: bytes) -> list:
        entry: list = [deque(maxlen=self.ring), None]
        self._table[addr] = entry
        self.bytes += ADDRESS_COST
        if len(self._table) > self.max_addresses:
            self._evict()
        return entry

    def _put(self, addr: bytes, slot: int, item: Record) -> None:
        entry = self._table.get(addr)
        if entry is None:
            entry = self._add(addr)
        else:
            self._table.move_to_end(addr)
        ring = entry[slot]
        if ring is None:
            ring = entry[slot] = deque(maxlen=self.ring)
            self.bytes += ADDRESS_COST // 2
        if len(ring) == ring.maxlen:
            self.bytes += len(item[3]) - len(ring[0][3])
        else:
            self.bytes += len(item[3]) + FRAME_COST
        ring.append(item)

    def _evict(self) -> None:
        """Drop the least recently heard address."""
        _addr, entry = self._table.popitem(last=False)
        self.evicted += 1
        cost = ADDRESS_COST if entry[1] is None else ADDRESS_COST + ADDRESS_COST // 2
        for ring in entry:
            if ring is not None:
                cost += sum(len(item[3]) for item in ring) + FRAME_COST * len(ring)
        self.bytes -= cost

    def _shrink(self) -> None:
        # Never the address just recorded (the most recent): at least one remains.
        while self.bytes > self.max_bytes and len(self._table) > 1:
            self._evict()

    def frames_of(self, addr: bytes, kinds: Iterable[str]) -> list[Record]:
        """The kept frames of ``addr`` whose kind is in ``kinds``, oldest first."""
        entry = self._table.get(addr)
        if entry is None:
            return []
        wanted = frozenset(kinds)
        found = [item for ring in entry if ring is not None for item in ring if item[1] in wanted]
        found.sort(key=lambda item: item[0])   # stable: capture order within one timestamp
        return found

    def clear(self) -> None:
        self._table.clear()
        self.bytes = 0

    def stats(self) -> dict[str, int]:
        return {"addresses": len(self._table), "bytes": self.bytes, "evicted": self.evicted}
