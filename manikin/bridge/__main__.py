"""``python -m manikin.bridge``: the exam-site bridge (see docs/bridge.md).

Examples::

    python -m manikin.bridge --scan
    MANIKIN_STATION_TOKEN=... python -m manikin.bridge --server wss://lms.example.org
    python -m manikin.bridge --fake 4 --profile good --token dev-token
"""

from __future__ import annotations

import argparse
import hashlib
import asyncio
import logging
import os
import signal
import sys
from typing import Optional

from .app import Bridge, BridgeConfig, scan_and_print
from .errors import BluetoothUnavailable
from .spool import DEFAULT_SPOOL_PATH

log = logging.getLogger("manikin.bridge")

PROFILES = ("good", "shallow", "fast", "leaning", "pauses")


def build_parser(prog: str = "python -m manikin.bridge") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Forward smart-manikin data from BLE to the LMS server.")
    p.add_argument("--server", default=os.environ.get("MANIKIN_SERVER", "ws://127.0.0.1:8000"),
                   help="server base URL, ws:// or wss:// (default %(default)s; env MANIKIN_SERVER)")
    p.add_argument("--token", default=None, help="station token (default: env MANIKIN_STATION_TOKEN)")
    p.add_argument("--spool", default=None,
                   help="spool database (default: one per station token, beside %s)" % DEFAULT_SPOOL_PATH)
    p.add_argument("--scan", action="store_true", help="list the supported manikins in range and exit")
    p.add_argument("--scan-timeout", type=float, default=5.0, help="seconds per BLE scan (default %(default)s)")
    p.add_argument("--devices", default="", help="comma-separated addresses to use instead of the server's list")
    p.add_argument("--all", dest="connect_all", action="store_true",
                   help="when the server assigns nothing, connect every supported manikin seen")
    p.add_argument("--fake", type=int, default=0, metavar="N", help="use N virtual manikins instead of Bluetooth")
    p.add_argument("--profile", choices=PROFILES, default="good", help="depth profile of the virtual manikins")
    p.add_argument("--fake-protocol", choices=("laerdal-qcpr", "open-manikin"), default="laerdal-qcpr",
                   help="byte format the virtual manikins speak")
    p.add_argument("--drop-rate", type=float, default=0.0, help="fraction of notifications virtual manikins drop")
    p.add_argument("--no-upload", action="store_true", help="do not connect to a server; print a summary instead")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def server_url(value: str) -> tuple[str, str | None]:
    """The server's WebSocket base URL from ``--server``: ws:// and wss:// as given; an http(s):// URL
    (a page's address pasted as is) becomes ws(s):// with a note; anything else is an error."""
    url = (value or "").strip().rstrip("/")
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or not rest:
        raise ValueError(f"--server {value!r} is not a URL: use ws://HOST[:PORT] or wss://HOST")
    if scheme in ("ws", "wss"):
        return f"{scheme}://{rest}", None
    if scheme in ("http", "https"):
        mapped = f"{'wss' if scheme == 'https' else 'ws'}://{rest}"
        return mapped, f"--server {url}: using {mapped} (the bridge speaks WebSocket)"
    raise ValueError(f"--server {value!r}: the scheme must be ws:// or wss:// (or http(s)://, mapped to ws(s)://)")


def default_spool_path(token: Optional[str]) -> str:
    """One spool per station token, so that several bridges on one laptop never share a sequence."""
    if not token:
        return DEFAULT_SPOOL_PATH
    stem, ext = os.path.splitext(DEFAULT_SPOOL_PATH)
    return f"{stem}-{hashlib.sha256(token.encode()).hexdigest()[:12]}{ext}"


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not verbose:
        logging.getLogger("websockets").setLevel(logging.WARNING)


def make_ble(args):
    if not args.fake:
        return None  # real bleak
    from manikin.virtual import make_fleet

    return make_fleet(args.fake, args.profile, protocol=args.fake_protocol, drop_rate=args.drop_rate)


async def amain(args) -> int:
    try:
        ble = make_ble(args)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.scan:
        if ble is None:
            import bleak as ble
        return await scan_and_print(ble, args.scan_timeout)

    token = args.token or os.environ.get("MANIKIN_STATION_TOKEN")
    if not args.no_upload and not token:
        print("error: no station token: pass --token or set MANIKIN_STATION_TOKEN "
              "(the station page of the LMS shows it), or use --no-upload", file=sys.stderr)
        return 2
    try:
        server, note = server_url(args.server)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if note:
        log.warning(note)
    config = BridgeConfig(
        server=server, token=token, spool_path=args.spool or default_spool_path(token),
        devices=[a.strip() for a in args.devices.split(",") if a.strip()],
        connect_all=args.connect_all or bool(args.fake), scan_timeout_s=args.scan_timeout,
        upload=not args.no_upload)
    bridge = Bridge(config, ble=ble)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, bridge.stop)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
            pass
    if args.duration:
        loop.call_later(args.duration, bridge.stop)
    await bridge.run()
    if not config.upload:
        bridge.sink.print_summary()
    return 0


def main(argv: Optional[list[str]] = None, prog: str = "python -m manikin.bridge") -> int:
    args = build_parser(prog).parse_args(argv)
    setup_logging(args.verbose)
    try:
        return asyncio.run(amain(args))
    except BluetoothUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
