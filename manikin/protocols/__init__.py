"""Manikin protocol decoders, keyed by protocol id.

>>> from manikin.protocols import get_protocol, match_advertisement
>>> get_protocol("laerdal-qcpr").title
'Laerdal Little Anne QCPR'
>>> match_advertisement("Little Anne QCPR", [])
'laerdal-qcpr'
"""

from __future__ import annotations

from typing import Iterable, Optional

from .base import (
    Decoder,
    DecoderStats,
    ForbiddenWriteError,
    MalformedPacket,
    ProtocolSpec,
    Sample,
)
from .laerdal_qcpr import LAERDAL_QCPR
from .open_manikin import OPEN_MANIKIN

# Order matters for matching: the open profile is identified by its service
# UUID, so it is checked before the name-based Laerdal patterns.
PROTOCOLS: dict[str, ProtocolSpec] = {
    OPEN_MANIKIN.id: OPEN_MANIKIN,
    LAERDAL_QCPR.id: LAERDAL_QCPR,
}


class UnknownProtocolError(KeyError):
    def __str__(self) -> str:
        return f"unknown protocol {self.args[0]!r}; known: {', '.join(sorted(PROTOCOLS))}"


def get_protocol(protocol_id: str) -> ProtocolSpec:
    """Return the :class:`ProtocolSpec` for ``protocol_id`` or raise :class:`UnknownProtocolError`."""
    try:
        return PROTOCOLS[protocol_id]
    except KeyError:
        raise UnknownProtocolError(protocol_id) from None


def match_advertisement(name: Optional[str], service_uuids: Iterable[str] = ()) -> Optional[str]:
    """Protocol id of a supported manikin given its advertised name and service UUIDs, else ``None``."""
    uuids = list(service_uuids or ())
    for spec in PROTOCOLS.values():
        if spec.matches(name, uuids):
            return spec.id
    return None


__all__ = [
    "PROTOCOLS",
    "Decoder",
    "DecoderStats",
    "ForbiddenWriteError",
    "MalformedPacket",
    "ProtocolSpec",
    "Sample",
    "UnknownProtocolError",
    "get_protocol",
    "match_advertisement",
]
