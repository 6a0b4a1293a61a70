"""The lms app's benchmarks: the HTTP yardstick (``http``), and the load generators the others use.

Every app keeps its benchmarks in its own ``bench`` module or package with a ``BENCHMARKS`` dict (name →
callable or ``"module:function"``); ``python manage.py bench`` finds them all (``lms.bench.registry``), runs
them (``all``, or the ones named; ``--quick`` for short smoke runs) and prints one table of their figures
(``lms.bench.figures``). The HTTP yardstick comes first: the other figures are read against it.

Here: ``http`` (the production path against the other servers), ``loadgen`` and ``wsload`` (HTTP and
WebSocket load from another process, used by every server benchmark), ``minimal_wsgi`` (the Django-free
ceiling) and ``inprocess`` (``python -m lms.bench.inprocess``: Django's handlers without a server).
"""

BENCHMARKS = {
    "http": "lms.bench.http:run",
}
