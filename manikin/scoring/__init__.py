"""CPR scoring for the practical exam: pure numpy/scipy, no Django.

Public API::

    from manikin.scoring import (score_trace, StreamScorer, load_standard, list_standards,
                                 Standard, SessionResult, TraceError, DEFAULT_STANDARD_ID)

See docs/scoring.md for the definitions, the score formula and the standards.
"""

# The scorer's version, frozen with every exam result it scored: raise it whenever a change to this
# package can change a score (docs/scoring.md keeps the history).
SCORER_VERSION = "2026.11.1"

from .core import TraceError, score_trace  # noqa: E402
from .results import SessionResult
from .standards import (DEFAULT_STANDARD_ID, Standard, StandardError, list_standards,
                        load_standard)
from .stream import StreamScorer, StreamUpdate

__all__ = ["DEFAULT_STANDARD_ID", "SCORER_VERSION", "SessionResult", "Standard", "StandardError", "StreamScorer",
           "StreamUpdate", "TraceError", "list_standards", "load_standard", "score_trace"]
