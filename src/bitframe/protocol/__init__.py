"""The protocol language: vocabulary, schema, loader and cross-field rules.

The names below load on first use, so that importing the vocabulary (which the command line's
help text and the randomiser read) does not load pydantic and the schema.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bitframe.protocol.loader import LoadedProtocol, load_protocol, load_protocol_with_source, parse_protocol
    from bitframe.protocol.schema import SCHEMA_VERSION, Protocol

__all__ = [
    "SCHEMA_VERSION",
    "LoadedProtocol",
    "Protocol",
    "json_schema",
    "load_protocol",
    "load_protocol_with_source",
    "parse_protocol",
]

_FROM_LOADER = frozenset({"LoadedProtocol", "load_protocol", "load_protocol_with_source", "parse_protocol"})
_FROM_SCHEMA = frozenset({"SCHEMA_VERSION", "Protocol"})


def __getattr__(name: str) -> Any:
    if name in _FROM_LOADER:
        from bitframe.protocol import loader

        return getattr(loader, name)
    if name in _FROM_SCHEMA:
        from bitframe.protocol import schema

        return getattr(schema, name)
    raise AttributeError(f"module 'bitframe.protocol' has no attribute {name!r}")


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the protocol language (for editors' YAML language server)."""
    from bitframe.protocol.schema import Protocol

    schema = Protocol.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://bitframe.invalid/schema/protocol-v1.json"
    schema["title"] = "bitframe trial protocol (version 1)"
    return schema
