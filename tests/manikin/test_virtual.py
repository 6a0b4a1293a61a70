"""The fake bleak backend and the virtual manikins obey the real device's rules."""

from __future__ import annotations

import asyncio

import pytest
from bleak.backends.device import BLEDevice
from bleak.exc import BleakBluetoothNotAvailableError, BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError

from manikin.protocols import get_protocol, match_advertisement
from manikin.protocols import laerdal_qcpr as lq
from manikin.protocols import open_manikin as om
from manikin.virtual import VirtualLittleAnne, VirtualOpenManikin, VirtualRadio, Waveform, make_fleet

ADDR = "F0:0D:00:00:00:01"


def little_anne(**kw):
    kw.setdefault("seed", 1)
    return VirtualLittleAnne(ADDR, Waveform.sine(depth_mm=52.0), **kw)


async def wait_for(predicate, timeout=5.0):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


async def connected(radio):
    client = radio.BleakClient(ADDR)
    await client.connect()
    return client


async def test_scan_returns_bleak_objects_and_is_matched():
    radio = VirtualRadio([little_anne()])
    found = await radio.BleakScanner.discover(timeout=1.0, return_adv=True)
    device, adv = found[ADDR]
    assert isinstance(device, BLEDevice)
    assert match_advertisement(adv.local_name, adv.service_uuids) == "laerdal-qcpr"
    assert (await radio.BleakScanner.find_device_by_address(ADDR.lower())).address == ADDR
    assert await radio.BleakScanner.find_device_by_address("00:00:00:00:00:00") is None


async def test_no_adapter_raises_bleaks_own_error():
    radio = VirtualRadio([little_anne()], adapter_available=False)
    with pytest.raises(BleakBluetoothNotAvailableError):
        await radio.BleakScanner.discover(timeout=0.1)


async def test_writing_config_before_indications_fails_with_gatt_253():
    radio = VirtualRadio([little_anne()])
    client = await connected(radio)
    await client.start_notify(lq.COMMAND_STATUS_CHAR, lambda c, d: None)
    await client.write_gatt_char(lq.COMMAND_CHAR, lq.AUTH_TOKEN, response=True)
    with pytest.raises(BleakGATTProtocolError) as err:
        await client.write_gatt_char(lq.CONFIG_CHAR, lq.START_STREAM, response=True)
    assert err.value.code == 0xFD == 253


async def test_token_is_acknowledged_only_when_notifications_are_on():
    dev = little_anne()
    radio = VirtualRadio([dev])
    client = await connected(radio)
    await client.write_gatt_char(lq.COMMAND_CHAR, lq.AUTH_TOKEN, response=True)  # not subscribed yet
    got = []
    await client.start_notify(lq.COMMAND_STATUS_CHAR, lambda c, d: got.append(bytes(d)))
    await asyncio.sleep(0.02)
    assert got == []
    await client.write_gatt_char(lq.COMMAND_CHAR, lq.AUTH_TOKEN, response=True)
    await wait_for(lambda: got == [b"\xaa"])


async def test_full_startup_streams_five_byte_samples_that_decode():
    dev = little_anne(start_ticks=0xFF00)  # wraps after 8 samples
    radio = VirtualRadio([dev])
    client = await connected(radio)
    decoder = lq.LAERDAL_QCPR.new_decoder()
    raw, samples = [], []
    loop = asyncio.get_running_loop()

    def on_sample(_c, data):
        raw.append(bytes(data))
        samples.extend(decoder.feed(data, loop.time()))

    await client.start_notify(lq.COMMAND_STATUS_CHAR, lambda c, d: None)
    await client.write_gatt_char(lq.COMMAND_CHAR, lq.AUTH_TOKEN, response=True)
    await client.start_notify(lq.CONFIG_CHAR, lambda c, d: None)
    await client.start_notify(lq.REALTIME_CHAR, on_sample)
    await client.write_gatt_char(lq.CONFIG_CHAR, lq.START_STREAM, response=True)
    await wait_for(lambda: len(raw) >= 20)
    await client.write_gatt_char(lq.CONFIG_CHAR, lq.STOP_STREAM, response=True)
    n = len(raw)
    await asyncio.sleep(0.05)
    assert len(raw) == n  # stopped
    assert all(len(p) == 5 and p[2:4] == b"\x00\x00" for p in raw)
    ticks = [int.from_bytes(p[:2], "little") for p in raw]
    assert all((b - a) % 0x10000 == 32 for a, b in zip(ticks, ticks[1:]))
    assert decoder.stats.wraps >= 1 and decoder.stats.lost == 0 and decoder.stats.malformed == 0
    assert max(s.depth_mm for s in samples) > 0
    await client.disconnect()


async def test_drop_rate_loses_notifications_and_the_decoder_notices():
    dev = little_anne(drop_rate=0.3, seed=5)
    radio = VirtualRadio([dev])
    client = await connected(radio)
    decoder = lq.LAERDAL_QCPR.new_decoder()
    for step in lq.LAERDAL_QCPR.startup:
        if step.__class__.__name__ == "Subscribe":
            cb = (lambda c, d: decoder.feed(d, asyncio.get_running_loop().time())) \
                if step.purpose == "samples" else (lambda c, d: None)
            await client.start_notify(step.char, cb)
        else:
            await client.write_gatt_char(step.char, step.data, response=True)
            await asyncio.sleep(0.01)
    await wait_for(lambda: dev.dropped >= 3 and decoder.stats.decoded >= 10)
    await client.disconnect()
    # Every generated sample is either decoded or detected as lost (except drops at the very end).
    assert decoder.stats.decoded + decoder.stats.lost <= dev.samples_generated
    assert decoder.stats.lost >= dev.dropped - 5 and decoder.stats.lost > 0


async def test_writing_mode_switch_wipes_and_disconnects():
    dev = little_anne()
    radio = VirtualRadio([dev])
    dropped = []
    client = radio.BleakClient(ADDR, disconnected_callback=lambda c: dropped.append(c))
    await client.connect()
    await client.write_gatt_char(lq.MODE_SWITCH_CHAR_NEVER_WRITE, b"\x01", response=True)
    await wait_for(lambda: not client.is_connected)
    assert dropped == [client] and dev.wiped and dev.forbidden_writes == 1
    client2 = await connected(radio)
    assert client2.services.get_characteristic(lq.REALTIME_CHAR) is None  # vendor table gone


async def test_told_to_drop_the_link_calls_the_disconnected_callback_and_resets_cccds():
    dev = little_anne()
    radio = VirtualRadio([dev])
    dropped = []
    client = radio.BleakClient(ADDR, disconnected_callback=lambda c: dropped.append(c))
    await client.connect()
    await client.start_notify(lq.CONFIG_CHAR, lambda c, d: None)
    dev.drop_connection(stay_away_s=0.2)
    assert dropped == [client] and not client.is_connected and dev.subscriptions == {}
    with pytest.raises(BleakError):
        await client.write_gatt_char(lq.CONFIG_CHAR, lq.START_STREAM, response=True)
    with pytest.raises(BleakDeviceNotFoundError):
        await radio.BleakClient(ADDR).connect()
    await wait_for(lambda: dev.advertising)
    await radio.BleakClient(ADDR).connect()


async def test_battery_and_device_information_are_readable():
    radio = VirtualRadio([little_anne(battery_pct=64)])
    client = await connected(radio)
    spec = get_protocol("laerdal-qcpr")
    assert spec.parse_battery(await client.read_gatt_char(spec.battery_char)) == 64
    fw = spec.parse_info_string(await client.read_gatt_char(spec.info_chars["firmware"]))
    assert fw == "1.4.2.165"


async def test_virtual_open_manikin_packets_decode_with_volume_and_hand():
    t = [i / 100 for i in range(300)]
    wf = Waveform(t, [30.0] * 300, volume_ml=[250.0] * 300)
    dev = VirtualOpenManikin(ADDR, wf, seed=2, hand_position=1)
    radio = VirtualRadio([dev])
    found = await radio.BleakScanner.discover(timeout=0.1, return_adv=True)
    assert match_advertisement(found[ADDR][1].local_name, found[ADDR][1].service_uuids) == "open-manikin"
    client = await connected(radio)
    decoder = om.OPEN_MANIKIN.new_decoder()
    samples = []
    await client.start_notify(om.DATA_CHAR, lambda c, d: samples.extend(decoder.feed(d, 0.0)))
    await client.write_gatt_char(om.CONTROL_CHAR, om.CMD_START, response=True)
    await wait_for(lambda: len(samples) >= 5)
    assert samples[0].depth_mm == 30.0 and samples[0].volume_ml == 250.0
    assert decoder.last_hand_position == "too_low" and decoder.stats.malformed == 0


def test_make_fleet_addresses_are_distinct():
    radio = make_fleet(3, waveform=Waveform.sine())
    assert sorted(radio.peripherals) == ["F0:0D:00:00:00:01", "F0:0D:00:00:00:02", "F0:0D:00:00:00:03"]
