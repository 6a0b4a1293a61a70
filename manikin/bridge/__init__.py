"""The exam-site bridge: BLE manikins -> decoders -> spool -> WebSocket uplink.

Run it with ``python -m manikin.bridge`` (see ``docs/bridge.md``).
"""

from .app import Bridge, BridgeConfig, DeviceDirectory, LocalSink, scan_and_print
from .errors import BluetoothUnavailable, explain_ble_error
from .session import DeviceSession, StartupError, gatt_write, run_steps
from .spool import Spool
from .uplink import Backoff, Uplink

__all__ = [
    "Backoff",
    "BluetoothUnavailable",
    "Bridge",
    "BridgeConfig",
    "DeviceDirectory",
    "DeviceSession",
    "LocalSink",
    "Spool",
    "StartupError",
    "Uplink",
    "explain_ble_error",
    "gatt_write",
    "run_steps",
    "scan_and_print",
]
