"""evil-twin-monitor: a passive sensor that catches access points impersonating
a city's registered Wi-Fi.

The package layout is the architecture (DESIGN.md):

- ``decoding``  capture files and raw frames -> compact `Frame` records (hot path)
- ``registry``  the city's legitimate access points, validated
- ``rules``     one module per detection rule
- ``engine``    frames -> findings -> alerts (dedup, hold-down); pure, deterministic
- ``sinks``     where alerts go (stdout lines, structured log)
- ``metrics``   the Prometheus exporter (an alert sink with bounded series)
- ``store``     the alert history (an alert sink writing SQLite from its own thread)
- ``radio``     the receiver: nl80211 monitor mode and tuning, or a simulated radio
- ``capture``   live frames from a monitor interface through a kernel filter
- ``channelplan`` which channels the radio visits, and for how long
- ``daemon``    the live shell (``run``): loop, recovery, reload, systemd, logging
- ``simulation`` a TAP monitor interface and scenario player for hardware-free tests
- ``replay``    the shell that feeds capture files to the engine
- ``config``    the sensor configuration
- ``cli``       the ``evil-twin-monitor`` command
"""

__version__ = "0.5.0"
PROG = "evil-twin-monitor"   # the command's name in messages
