"""Protobuf messages to and from the JSON shapes of the REST API."""

from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from pydantic import BaseModel


def to_json(message: Message) -> dict[str, Any]:
    """A message as a dict with proto field names, empty repeated fields included."""
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def from_body(model: BaseModel, message: Message, *, only_set: bool = False) -> Message:
    """Fill a message from a validated request body (nulls and, if asked, unset fields left out)."""
    data = model.model_dump(mode="json", exclude_unset=only_set)
    json_format.ParseDict(_drop_nulls(data), message)
    return message


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value
