"""Price curves shared by the demo and by tariffs Connect captures."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime


def agile_price(local: datetime) -> float:
    """Return an Agile-like GBP/kWh price for a local wall-clock time."""
    hour = local.hour + local.minute / 60
    if hour < 4:  # overnight, falling to the cheapest slots around 04:00
        base = 0.13 - 0.012 * hour
    elif hour < 9:  # morning ramp
        base = 0.082 + 0.03 * (hour - 4)
    elif hour < 13:  # midday solar dip
        base = 0.232 - 0.02 * (hour - 9)
    elif hour < 16:
        base = 0.152 + 0.02 * (hour - 13)
    elif hour < 19:  # evening peak, highest around 17:30
        base = 0.30 + 0.10 * math.sin(math.pi * (hour - 16) / 3)
    elif hour < 23:
        base = 0.24 - 0.02 * (hour - 19)
    else:
        base = 0.15 - 0.02 * (hour - 23)
    # A small deterministic day-to-day wobble, so days are not identical.
    wobble = 0.005 * ((local.date().toordinal() * 7919) % 5 - 2)
    return round(base + wobble, 5)
