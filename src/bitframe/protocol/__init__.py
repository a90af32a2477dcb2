"""The protocol language: schema, loader and cross-field rules."""

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


def json_schema() -> dict:
    """The JSON Schema of the protocol language (for editors' YAML language server)."""
    schema = Protocol.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://bitframe.invalid/schema/protocol-v1.json"
    schema["title"] = "bitframe trial protocol (version 1)"
    return schema
