"""The manikin app's benchmarks (``manage.py bench scorer|frames|stream|console``):

- ``scorer`` (``scorer.py``, also ``python -m manikin.bench.scorer``): the CPR scorer, batch and streaming;
- ``frames`` (``frames.py``): the bridge-message decoder over a million messages;
- ``stream`` (``stream.py``): virtual manikins through the real server to a console, with its load process
  ``bridges.py`` (``python -m manikin.bench.bridges``);
- ``console`` (``console.py``): the room console's redraws in headless Chromium.
"""

BENCHMARKS = {
    "scorer": "manikin.bench.scorer:run",
    "frames": "manikin.bench.frames:run",
    "stream": "manikin.bench.stream:run",
    "console": "manikin.bench.console:run",
}
