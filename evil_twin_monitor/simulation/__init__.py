"""Hardware-free Wi-Fi: a simulated monitor interface and a scenario player.

The pieces, each with one job: `tap` (a TAP device with the radiotap link
type: frames written to it are received on a monitor-like interface),
`frames` (radiotap + 802.11 frames built with `struct`, security presets in
the registry's words, traffic mixes for benchmarks), and `player`
(transmitters that beacon on their channel, heard only while the daemon's
simulated radio is tuned there). ``python -m evil_twin_monitor.simulation``
is the command line tests and demos drive (see ``__main__``).

Everything here needs root (CAP_NET_ADMIN) and belongs inside a network
namespace; nothing here is imported by the daemon itself.
"""

from .frames import MIXES, PROFILES, Profile, traffic_mix
from .player import FloodResult, ScenarioPlayer, Transmitter
from .tap import ARPHRD_IEEE80211_RADIOTAP, SimulatedMonitor, SimulatedMonitorError

__all__ = [
    "ARPHRD_IEEE80211_RADIOTAP", "FloodResult", "MIXES", "PROFILES", "Profile",
    "ScenarioPlayer", "SimulatedMonitor", "SimulatedMonitorError", "Transmitter", "traffic_mix",
]
