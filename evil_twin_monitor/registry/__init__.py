"""The registry of the city's own access points: the model the rules query,
and the YAML loader that builds it with file:line error messages."""

from __future__ import annotations

from .loader import RegistryError, default_pmf, load_registry, parse_bssid, summarize_registry
from .model import PMF_VALUES, SECURITY_VALUES, AccessPoint, Facility, Network, Registry
from .yamlsource import Problem, SourceError

__all__ = [
    "PMF_VALUES", "SECURITY_VALUES", "AccessPoint", "Facility", "Network", "Problem",
    "Registry", "RegistryError", "SourceError", "default_pmf", "load_registry", "parse_bssid",
    "summarize_registry",
]
