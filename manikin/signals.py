"""Signals the manikin app sends to the apps built on it (it imports none of them).

``samples_arrived_late``: samples measured during recordings that had already stopped were stored (a
bridge's spool delivered after an outage). Sent after the commit, with ``recording_ids``.
"""

from django.dispatch import Signal

samples_arrived_late = Signal()
