"""evil-twin-monitor: a passive sensor that catches access points impersonating
a city's registered Wi-Fi.

The package layout is the architecture (DESIGN.md):

- ``decoding``  capture files and raw frames -> compact `Frame` records (hot path)
- ``registry``  the city's legitimate access points, validated
- ``rules``     one module per detection rule
- ``engine``    frames -> findings -> alerts (dedup, hold-down); pure, deterministic
- ``sinks``     where alerts go (stdout lines; later log, metrics, store)
- ``replay``    the shell that feeds capture files to the engine
- ``config``    the sensor configuration
- ``cli``       the ``evil-twin-monitor`` command
"""

__version__ = "0.1.0"
