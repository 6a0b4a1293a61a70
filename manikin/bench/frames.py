"""Frame decoder benchmark: ``manage.py bench frames [--quick]``.

Drives :func:`manikin.frames.decode` over a million bridge messages (a realistic mix: 6-sample frames,
status frames, and one poison message in ten) and prints the cost per message beside ``json.loads``
of the same text, the floor any JSON decoder pays. The decoder is pure, so this is also how a fuzz run
by the million is paced.
"""

from __future__ import annotations

import json
import random
import time

from lms.bench.figures import figure


def _messages(n: int) -> list[str]:
    rng = random.Random(5)
    t0 = 1_763_900_000.0
    base = {"type": "samples", "device": "F0:0D:00:00:00:01", "protocol": "laerdal-qcpr", "volume_ml": None,
            "lost": 0, "malformed": 0}
    poison = ['{"type": "samples", "seq": 1, "lost": Infinity}', "[" * 2000,
              json.dumps({**base, "seq": 2**63, "t": [t0], "depth_mm": [1.0]}),
              json.dumps({**base, "seq": 5, "t": [t0], "depth_mm": [1e300]}),
              json.dumps({"type": "status", "seq": 6, "device": "A", "state": "error", "message": "a\x00"})]
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.1:
            out.append(poison[i % len(poison)])
        elif r < 0.15:
            out.append(json.dumps({"type": "status", "seq": i + 1, "device": "F0:0D:00:00:00:01",
                                   "sent_at": t0 + i, "state": "streaming", "battery_pct": 87, "rssi_dbm": -58,
                                   "info": {"model": "Little Anne QCPR", "firmware": "1.4.2"}, "message": None}))
        else:
            t = t0 + i * 0.06
            out.append(json.dumps({**base, "seq": i + 1, "sent_at": t + 0.06,
                                   "t": [round(t + k * 0.0156, 4) for k in range(6)],
                                   "depth_mm": [round(rng.uniform(0, 60), 1) for _ in range(6)]}))
    return out


def run(out=print, quick: bool = False) -> dict:
    from manikin.frames import Rejected, decode

    n = 50_000 if quick else 1_000_000
    messages = _messages(n)
    json_s = _time_json(messages)  # the floor: what parsing the JSON alone costs
    t_start = time.perf_counter()
    rejected = sum(isinstance(decode(m), Rejected) for m in messages)
    decode_s = time.perf_counter() - t_start
    figures = {"messages": n, "rejected": rejected, "decode_us": round(decode_s / n * 1e6, 2),
               "json_loads_us": round(json_s / n * 1e6, 2), "ratio_to_json_loads": round(decode_s / json_s, 1),
               "messages_per_s": round(n / decode_s)}
    out(f"decode: {n:,} messages ({rejected:,} rejected) in {decode_s:.2f} s: {figures['decode_us']} µs each, "
        f"{figures['messages_per_s']:,} messages/s on one core")
    out(f"json.loads of the same text: {figures['json_loads_us']} µs each; decode = "
        f"{figures['ratio_to_json_loads']}× json.loads (validation, ranges, numpy arrays)")
    figures["figures"] = [
        figure("frames", "decode one bridge message", decode_s / n * 1e6, "µs", yardstick=json_s / n * 1e6,
               yardstick_name="json.loads",
               note=f"{n:,} messages, 1 in 10 poison; no target was set (issue 8 reported the figure)"),
    ]
    return figures


def _time_json(messages: list[str]) -> float:
    t_start = time.perf_counter()
    for m in messages:
        try:
            json.loads(m)
        except (ValueError, RecursionError):
            pass
    return time.perf_counter() - t_start
