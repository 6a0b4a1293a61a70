"""Virtual manikins behind a fake bleak backend.

Only the radio is faked: the bytes the virtual manikins emit go through the
real decoders, and the bridge drives them through the same calls it makes on
bleak.
"""

from __future__ import annotations

from typing import Optional

from .fake_bleak import FakeClient, FakeScanner, VirtualRadio
from .peripherals import VirtualLittleAnne, VirtualOpenManikin, VirtualPeripheral, Waveform


def fake_address(index: int) -> str:
    """Deterministic address of the ``index``-th virtual manikin (1-based)."""
    return "F0:0D:00:00:{:02X}:{:02X}".format((index >> 8) & 0xFF, index & 0xFF)


def make_fleet(count: int, profile: Optional[str] = None, *, waveform: Optional[Waveform] = None,
               protocol: str = "laerdal-qcpr", drop_rate: float = 0.0, seed: int = 0,
               **radio_kwargs) -> VirtualRadio:
    """A radio with ``count`` virtual manikins.

    The depth comes from ``manikin.simulator.simulate(profile, ...)`` (a
    different seed per manikin) unless a ``waveform`` is given.
    """
    peripherals = []
    for i in range(1, count + 1):
        wf = waveform or Waveform.from_profile(profile or "good", seed=seed + i)
        cls = VirtualOpenManikin if protocol == "open-manikin" else VirtualLittleAnne
        name = f"OpenManikin {i}" if protocol == "open-manikin" else "Little Anne QCPR"
        peripherals.append(cls(fake_address(i), wf, name=name, drop_rate=drop_rate,
                               seed=seed + i, rssi_dbm=-50 - 3 * i))
    return VirtualRadio(peripherals, **radio_kwargs)


__all__ = [
    "FakeClient",
    "FakeScanner",
    "VirtualLittleAnne",
    "VirtualOpenManikin",
    "VirtualPeripheral",
    "VirtualRadio",
    "Waveform",
    "fake_address",
    "make_fleet",
]
