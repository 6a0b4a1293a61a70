"""Public functions of the instructors app (what other apps and the views call).

Each state-changing operation is one function (validation, permission, transaction, audit). Errors are
``ValidationError`` (a message in the user's language; nothing stored) or ``PermissionDenied``.

- Standing (``instructors/standing.py``): ``refusals`` (who may not teach or examine a programme, and
  why: used by ``courses`` and ``exams``), ``standing``, ``qualification_of``; ``TEACH``, ``EXAMINE``.
- Teaching record (``instructors/record.py``): ``records``, ``organisation_figures``, ``Figures``,
  ``floor_pct``.
- Profiles (``instructors/profiles.py``): ``register``, ``suspend``, ``reinstate``, ``change_tier``.
- Feedback (``instructors/feedback.py``): ``feedback_refusal``, ``submit_feedback``,
  ``class_feedback_summary``.
- Annual assessment (``instructors/assessment.py``): ``run_assessment``, ``decide``, ``evaluate``,
  ``rule_for``, ``profiles_in_scope``, ``assessments_visible``, ``can_assess``, ``region_of``.
- Studios (``instructors/studios.py``, who may do what in its docstring): ``create_studio``, ``update_studio``,
  ``add_member``, ``remove_member``, ``set_head``, ``add_showcase``, ``remove_showcase``, ``reorder_showcase``,
  ``publish_studio``, ``unpublish_studio``; reading: ``public_studios``, ``managed_studios``, ``studio_figures``,
  ``studio_organisation_ids`` (the studios a person heads or belongs to).
"""

from __future__ import annotations

from .assessment import (  # noqa: F401
    assessments_visible, can_assess, decide, evaluate, profiles_in_scope, region_of, rule_for, run_assessment,
)
from .feedback import class_feedback_summary, feedback_refusal, submit_feedback  # noqa: F401
from .profiles import change_tier, register, reinstate, suspend  # noqa: F401
from .record import Figures, floor_pct, organisation_figures, records  # noqa: F401
from .standing import EXAMINE, TEACH, qualification_of, refusals, standing  # noqa: F401
from .studios import (  # noqa: F401
    add_member, add_showcase, create_studio, managed_studios, public_studios, publish_studio, remove_member,
    remove_showcase, reorder_showcase, set_head, studio_figures, studio_organisation_ids, unpublish_studio,
    update_studio,
)
