"""Detection rules, one module each. Adding a rule: one new module plus one
line in `ALL_RULES`."""

from __future__ import annotations

from .ap_missing import ApMissing
from .base import BoundedDict, Finding, Rule, RuleContext
from .beacon_flood import BeaconFlood
from .cloned_bssid import ClonedBssid
from .deauth_flood import DeauthFlood
from .fingerprint_mismatch import FingerprintMismatch
from .karma import Karma
from .lookalike_ssid import LookalikeSsid
from .rogue_hardware import RogueHardware
from .security_mismatch import SecurityMismatch
from .unexpected_channel import UnexpectedChannel
from .unknown_bssid import UnknownBssid

ALL_RULES: tuple[type[Rule], ...] = (
    UnknownBssid,
    LookalikeSsid,
    UnexpectedChannel,
    SecurityMismatch,
    FingerprintMismatch,
    ClonedBssid,
    RogueHardware,
    Karma,
    DeauthFlood,
    BeaconFlood,
    ApMissing,
)

RULES_BY_ID: dict[str, type[Rule]] = {rule.id: rule for rule in ALL_RULES}

__all__ = ["ALL_RULES", "RULES_BY_ID", "BoundedDict", "Finding", "Rule", "RuleContext"]
