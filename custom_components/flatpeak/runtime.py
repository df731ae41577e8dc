"""What a loaded config entry runs on: data only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry

if TYPE_CHECKING:
    from .api.client import FlatpeakClient
    from .api.signature import SignatureVerifier
    from .locations.followed import FollowedLocations
    from .tariff.problems import ProblemTracker
    from .webhook.applier import EventApplier
    from .webhook.catch_up import CatchUp
    from .webhook.confirmation import EventConfirmer
    from .webhook.event_log import EventLog


@dataclass(slots=True, kw_only=True)
class FlatpeakRuntimeData:
    """Everything a loaded entry runs on."""

    client: FlatpeakClient
    locations: FollowedLocations
    problems: ProblemTracker
    event_log: EventLog
    verifier: SignatureVerifier
    confirmer: EventConfirmer
    applier: EventApplier
    catch_up: CatchUp


type FlatpeakConfigEntry = ConfigEntry[FlatpeakRuntimeData]
