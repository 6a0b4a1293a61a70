"""Turn Bluetooth failures into messages an exam-site operator can act on."""

from __future__ import annotations

from typing import Optional

from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
    BleakDeviceNotFoundError,
    BleakError,
)

NO_ADAPTER = (
    "No Bluetooth adapter found. Plug in a Bluetooth LE adapter (or enable the built-in one) "
    "and check that the Bluetooth service is running (Linux: `systemctl status bluetooth`)."
)
NO_BLUEZ = (
    "No usable Bluetooth adapter: the Bluetooth service (BlueZ) cannot be reached over D-Bus. "
    "On Linux start it with "
    "`sudo systemctl start bluetooth`; in a container, share the host's D-Bus system bus. "
    "If this machine has no Bluetooth adapter, plug one in."
)
POWERED_OFF = "Bluetooth is turned off. Turn it on (e.g. `bluetoothctl power on`) and try again."
NO_PERMISSION = (
    "Permission to use Bluetooth was denied. On Linux add this user to the `bluetooth` group "
    "(`sudo usermod -aG bluetooth $USER`, then log in again) and check that BlueZ is running; "
    "on macOS allow Bluetooth for the terminal in System Settings > Privacy & Security."
)

_PERMISSION_DBUS_ERRORS = {
    "org.freedesktop.DBus.Error.AccessDenied",
    "org.bluez.Error.NotPermitted",
    "org.bluez.Error.NotAuthorized",
    "org.freedesktop.DBus.Error.AuthFailed",
}
_NO_SERVICE_DBUS_ERRORS = {
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
}


class BluetoothUnavailable(RuntimeError):
    """Bluetooth cannot be used at all on this machine; ``str()`` is the operator message."""


def explain_ble_error(exc: BaseException) -> Optional[str]:
    """A clear operator message if ``exc`` means Bluetooth is unusable here, else ``None``."""
    if isinstance(exc, BleakBluetoothNotAvailableError):
        reason = exc.reason
        if reason in (BleakBluetoothNotAvailableReason.NO_BLUETOOTH,
                      BleakBluetoothNotAvailableReason.NO_BLE_CENTRAL_ROLE):
            return NO_ADAPTER
        if reason == BleakBluetoothNotAvailableReason.POWERED_OFF:
            return POWERED_OFF
        if reason in (BleakBluetoothNotAvailableReason.DENIED_BY_USER,
                      BleakBluetoothNotAvailableReason.DENIED_BY_SYSTEM,
                      BleakBluetoothNotAvailableReason.DENIED_BY_UNKNOWN):
            return NO_PERMISSION
        return f"Bluetooth is not available: {exc.args[0]}"
    if isinstance(exc, BleakDBusError):
        if exc.dbus_error in _PERMISSION_DBUS_ERRORS:
            return NO_PERMISSION
        if exc.dbus_error in _NO_SERVICE_DBUS_ERRORS:
            return NO_BLUEZ
        if exc.dbus_error == "org.bluez.Error.NotReady":
            return POWERED_OFF
        return None
    if isinstance(exc, PermissionError):
        return NO_PERMISSION
    if isinstance(exc, (FileNotFoundError, ConnectionRefusedError)):
        # dbus-fast cannot open the system bus socket: no BlueZ / no D-Bus here.
        return NO_BLUEZ
    if isinstance(exc, BleakError) and not isinstance(exc, BleakDeviceNotFoundError):
        text = str(exc).lower()
        if "no bluetooth adapters" in text or "adapter" in text and "not found" in text:
            return NO_ADAPTER
        if "powered off" in text or "turned off" in text:
            return POWERED_OFF
        if "permission" in text or "not authorized" in text:
            return NO_PERMISSION
    return None
