"""What a Flatpeak webhook delivery must look like: its body parsed into an event.

Bounds (id and type shape, nesting depth) are checked here, before anything is applied.
"""

from __future__ import annotations

import json
import re
from typing import Final

from .exceptions import (
    FlatpeakError,
    WebhookPayloadError,
)
from .models import Event

# Flatpeak's ids are a prefix and a 24-hex-digit object id (`evt_65e42b7827c0526548432b9f`);
# the bound leaves room for a longer token without letting ids grow without limit.
EVENT_ID_PATTERN: Final = re.compile(r"evt_[A-Za-z0-9_-]{1,64}")
# Documented types are `resource.event[.failed]`, under 30 characters.
MAX_EVENT_TYPE_LENGTH: Final = 64
EVENT_TYPE_PATTERN: Final = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)*")
# Flatpeak's events nest a few levels (event > data > location > address); a deeper body
# is not an event, and very deep ones break JSON encoders downstream.
MAX_JSON_DEPTH: Final = 16


def is_event_id(value: object) -> bool:
    """Whether a value is shaped like a Flatpeak event id."""
    return isinstance(value, str) and EVENT_ID_PATTERN.fullmatch(value) is not None


def json_depth_exceeds(value: object, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON-decoded data nests deeper than `limit` containers."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: list[object] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def parse_event(body: bytes) -> Event:
    """Parse a delivery's raw body into an event, or say precisely what is wrong."""
    if not body.strip():
        raise WebhookPayloadError("the body is empty")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as err:
        raise WebhookPayloadError(f"the body is not JSON: {err}") from err
    if not isinstance(payload, dict):
        raise WebhookPayloadError(
            f"the body is a JSON {type(payload).__name__}, not an object"
        )
    _check_event_fields(payload)
    try:
        return Event.from_dict(payload)
    except FlatpeakError as err:
        raise WebhookPayloadError(f"the event is malformed: {err}") from err


def _check_event_fields(payload: dict[str, object]) -> None:
    """Refuse an object that is not shaped like a Flatpeak event."""
    for key, kind in (("id", str), ("type", str), ("data", dict)):
        if key not in payload:
            raise WebhookPayloadError(f"the event has no '{key}'")
        if not isinstance(payload[key], kind) or (kind is str and not payload[key]):
            raise WebhookPayloadError(f"the event's '{key}' is not a {kind.__name__}")
    if not is_event_id(payload["id"]):
        raise WebhookPayloadError("the event's 'id' is not a Flatpeak event id")
    event_type = str(payload["type"])
    if (
        len(event_type) > MAX_EVENT_TYPE_LENGTH
        or EVENT_TYPE_PATTERN.fullmatch(event_type) is None
    ):
        raise WebhookPayloadError("the event's 'type' is not a Flatpeak event type")
    if json_depth_exceeds(payload):
        raise WebhookPayloadError(
            f"the event nests deeper than {MAX_JSON_DEPTH} levels"
        )
