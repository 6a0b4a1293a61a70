"""The public functions of the dashboards app (what other apps, views and commands use)."""

from .facts import BINS, IN_TARGET, mark, rebuild, refresh  # noqa: F401
from .indicators import (  # noqa: F401
    EXPIRING_DAYS, CountyCoverage, Figures, TargetProgress, as_of_day, coverage, floor_dec, instructors_by_tier,
    require_dashboard, table, top_regions, trend,
)
