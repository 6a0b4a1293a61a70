"""A fake bleak backend: the radio is the only thing that is simulated.

:class:`VirtualRadio` holds virtual peripherals and exposes ``BleakScanner``
and ``BleakClient`` classes with the subset of bleak's API the bridge uses:

- ``BleakScanner.discover(timeout=..., return_adv=...)`` and
  ``BleakScanner.find_device_by_address(address, timeout=...)``
- ``BleakClient(address_or_ble_device, disconnected_callback=...)`` with
  ``connect``, ``disconnect``, ``is_connected``, ``services``,
  ``start_notify(char, callback)``, ``stop_notify``,
  ``write_gatt_char(char, data, response=...)`` and ``read_gatt_char``.

The bridge takes "the bleak module" as a dependency; pass a radio instead::

    radio = VirtualRadio([VirtualLittleAnne("F0:00:00:00:00:01", waveform)])
    bridge = Bridge(config, ble=radio)

Objects returned are bleak's own ``BLEDevice`` and ``AdvertisementData``, and
errors are bleak's own exception classes, so the bridge's error handling is
exercised for real.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, Callable, Iterable, Optional, Union

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakCharacteristicNotFoundError,
    BleakDeviceNotFoundError,
    BleakError,
)

log = logging.getLogger("manikin.virtual")


class FakeCharacteristic:
    """Looks like ``bleak.backends.characteristic.BleakGATTCharacteristic`` for callers."""

    def __init__(self, uuid: str, handle: int, properties: Iterable[str], service_uuid: str) -> None:
        self.uuid = uuid.lower()
        self.handle = handle
        self.properties = list(properties)
        self.service_uuid = service_uuid
        self.description = uuid

    def __repr__(self) -> str:
        return f"FakeCharacteristic({self.uuid}, handle={self.handle})"


class FakeService:
    def __init__(self, uuid: str, characteristics: list[FakeCharacteristic]) -> None:
        self.uuid = uuid.lower()
        self.characteristics = characteristics

    def get_characteristic(self, uuid: str) -> Optional[FakeCharacteristic]:
        for c in self.characteristics:
            if c.uuid == str(uuid).lower():
                return c
        return None


class FakeServiceCollection:
    def __init__(self, services: list[FakeService]) -> None:
        self._services = services

    def __iter__(self):
        return iter(self._services)

    @property
    def characteristics(self) -> dict[int, FakeCharacteristic]:
        return {c.handle: c for s in self._services for c in s.characteristics}

    def get_service(self, uuid: str) -> Optional[FakeService]:
        for s in self._services:
            if s.uuid == str(uuid).lower():
                return s
        return None

    def get_characteristic(self, specifier: Union[int, str]) -> Optional[FakeCharacteristic]:
        if isinstance(specifier, int):
            return self.characteristics.get(specifier)
        for s in self._services:
            c = s.get_characteristic(specifier)
            if c is not None:
                return c
        return None


class VirtualRadio:
    """The air between the bridge and the virtual peripherals."""

    def __init__(self, peripherals: Iterable = (), *, scan_delay_s: float = 0.05,
                 connect_delay_s: float = 0.01, adapter_available: bool = True) -> None:
        self.peripherals: dict[str, Any] = {}
        for p in peripherals:
            self.add(p)
        self.scan_delay_s = scan_delay_s
        self.connect_delay_s = connect_delay_s
        self.adapter_available = adapter_available
        radio = self

        class BleakScanner(FakeScanner):
            _radio = radio

        class BleakClient(FakeClient):
            _radio = radio

        self.BleakScanner = BleakScanner
        self.BleakClient = BleakClient

    def add(self, peripheral) -> None:
        self.peripherals[peripheral.address.upper()] = peripheral

    def get(self, address: str):
        return self.peripherals.get(address.upper())

    def check_adapter(self) -> None:
        if not self.adapter_available:
            raise BleakBluetoothNotAvailableError(
                "No Bluetooth adapters found.", BleakBluetoothNotAvailableReason.NO_BLUETOOTH)

    def advertising(self) -> list:
        return [p for p in self.peripherals.values() if p.advertising and p.client is None]


class FakeScanner:
    """Class-level API of ``bleak.BleakScanner`` backed by a :class:`VirtualRadio`."""

    _radio: VirtualRadio

    def __init__(self, detection_callback: Optional[Callable] = None, service_uuids=None, **kwargs: Any) -> None:
        self._callback = detection_callback
        self._seen: dict[str, tuple[BLEDevice, AdvertisementData]] = {}

    async def __aenter__(self):
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def start(self) -> None:
        self._radio.check_adapter()
        await asyncio.sleep(0)
        self._collect()

    async def stop(self) -> None:
        self._collect()

    def _collect(self) -> None:
        for p in self._radio.advertising():
            device = BLEDevice(p.address, p.name, details=p)
            adv = AdvertisementData(
                local_name=p.name, manufacturer_data={}, service_data={},
                service_uuids=list(p.advertised_service_uuids), tx_power=None,
                rssi=p.rssi_dbm, platform_data=())
            self._seen[p.address] = (device, adv)
            if self._callback is not None:
                self._callback(device, adv)

    @property
    def discovered_devices(self) -> list[BLEDevice]:
        return [d for d, _ in self._seen.values()]

    @property
    def discovered_devices_and_advertisement_data(self) -> dict:
        return dict(self._seen)

    @classmethod
    async def discover(cls, timeout: float = 5.0, *, return_adv: bool = False, **kwargs: Any):
        async with cls(**kwargs) as scanner:
            await asyncio.sleep(min(timeout, cls._radio.scan_delay_s))
        if return_adv:
            return scanner.discovered_devices_and_advertisement_data
        return scanner.discovered_devices

    @classmethod
    async def find_device_by_address(cls, device_identifier: str, timeout: float = 10.0, **kwargs: Any) -> Optional[BLEDevice]:
        found = await cls.discover(timeout=timeout, return_adv=True, **kwargs)
        for address, (device, _) in found.items():
            if address.lower() == device_identifier.lower():
                return device
        return None


class FakeClient:
    """Instance API of ``bleak.BleakClient`` backed by a :class:`VirtualRadio`."""

    _radio: VirtualRadio

    def __init__(self, address_or_ble_device: Union[BLEDevice, str],
                 disconnected_callback: Optional[Callable[["FakeClient"], None]] = None,
                 services=None, *, timeout: float = 30, **kwargs: Any) -> None:
        if isinstance(address_or_ble_device, BLEDevice):
            self.address = address_or_ble_device.address
        else:
            self.address = str(address_or_ble_device)
        self._disconnected_callback = disconnected_callback
        self._timeout = timeout
        self._peripheral = None
        self._connected = False
        self._services: Optional[FakeServiceCollection] = None
        self._callbacks: dict[str, Callable] = {}

    @property
    def name(self) -> str:
        return self._peripheral.name if self._peripheral else self.address

    @property
    def is_connected(self) -> bool:
        return self._connected

    @property
    def services(self) -> FakeServiceCollection:
        if not self._services:
            raise BleakError("Service Discovery has not been performed yet")
        return self._services

    async def __aenter__(self):
        await self.connect()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.disconnect()

    async def connect(self, **kwargs: Any) -> None:
        self._radio.check_adapter()
        peripheral = self._radio.get(self.address)
        await asyncio.sleep(self._radio.connect_delay_s)
        if peripheral is None or not peripheral.advertising:
            raise BleakDeviceNotFoundError(self.address, f"Device with address {self.address} was not found.")
        if peripheral.client is not None:
            raise BleakError(f"{self.address} is already connected to another central")
        self._peripheral = peripheral
        self._connected = True
        self._callbacks.clear()
        peripheral.attach(self)
        self._services = FakeServiceCollection(peripheral.gatt_table())

    async def disconnect(self) -> None:
        if not self._connected:
            return
        await asyncio.sleep(0)
        self._peripheral.detach(self)
        self._lost()

    # -- called by the peripheral ---------------------------------------------

    def _lost(self) -> None:
        """The link is gone (either side). Mirrors bleak: the callback runs for every disconnection."""
        if not self._connected:
            return
        self._connected = False
        self._services = None
        self._callbacks.clear()
        if self._disconnected_callback is not None:
            self._disconnected_callback(self)

    def _deliver(self, char_uuid: str, data: bytes) -> None:
        """Deliver a notification/indication on the event loop, as bleak does."""
        callback = self._callbacks.get(char_uuid)
        if callback is None or not self._connected:
            return
        characteristic = self._services.get_characteristic(char_uuid) if self._services else None
        result = callback(characteristic, bytearray(data))
        if inspect.isawaitable(result):
            asyncio.ensure_future(result)

    # -- GATT operations -----------------------------------------------------------

    def _resolve(self, char_specifier) -> FakeCharacteristic:
        if not self._connected:
            raise BleakError("Not connected")
        if isinstance(char_specifier, FakeCharacteristic):
            return char_specifier
        c = self.services.get_characteristic(char_specifier if isinstance(char_specifier, int) else str(char_specifier))
        if c is None:
            raise BleakCharacteristicNotFoundError(char_specifier)
        return c

    async def read_gatt_char(self, char_specifier, *, use_cached: bool = False, **kwargs: Any) -> bytearray:
        c = self._resolve(char_specifier)
        await asyncio.sleep(0)
        return bytearray(self._peripheral.read(c.uuid))

    async def write_gatt_char(self, char_specifier, data, response: Optional[bool] = None) -> None:
        c = self._resolve(char_specifier)
        if response is None:
            response = "write" in c.properties
        await asyncio.sleep(0)
        self._peripheral.write(c.uuid, bytes(data), response)

    async def start_notify(self, char_specifier, callback: Callable, **kwargs: Any) -> None:
        c = self._resolve(char_specifier)
        kind = "notify" if "notify" in c.properties else "indicate" if "indicate" in c.properties else None
        if kind is None:
            raise BleakError(f"Characteristic {c.uuid} does not support notifications or indications")
        await asyncio.sleep(0)
        self._callbacks[c.uuid] = callback
        self._peripheral.subscribe(c.uuid, kind, True)

    async def stop_notify(self, char_specifier) -> None:
        c = self._resolve(char_specifier)
        await asyncio.sleep(0)
        self._callbacks.pop(c.uuid, None)
        self._peripheral.subscribe(c.uuid, None, False)
