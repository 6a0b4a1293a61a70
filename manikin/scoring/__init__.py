"""CPR scoring for the practical exam: pure numpy/scipy, no Django.

Public API::

    from manikin.scoring import (score_trace, StreamScorer, load_standard, list_standards,
                                 Standard, SessionResult, TraceError, DEFAULT_STANDARD_ID)

See docs/scoring.md for the definitions, the score formula and the standards.
"""

from .core import TraceError, score_trace
from .results import SessionResult
from .standards import (DEFAULT_STANDARD_ID, Standard, StandardError, list_standards,
                        load_standard)
from .stream import StreamScorer, StreamUpdate

__all__ = ["DEFAULT_STANDARD_ID", "SessionResult", "Standard", "StandardError", "StreamScorer",
           "StreamUpdate", "TraceError", "list_standards", "load_standard", "score_trace"]
