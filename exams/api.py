"""Public functions of the exams app: the question bank, blueprints, papers and attempts.

Other apps and the views call these, never ``exams.models`` for writes. Each state-changing
operation is one function (validation, permission, transaction, audit). Errors are
``ValidationError`` (bad input, a message in the user's language; nothing stored) or
``PermissionDenied``.

- Bank (``exams/questions.py``): ``save_question``, ``retire_question``, ``restore_question``,
  ``can_manage_bank``; XLSX import/export (``exams/xlsx.py``): ``import_questions``,
  ``export_questions``.
- Papers (``exams/papers.py``): ``draw_paper``, ``check_blueprint``, ``save_blueprint``.
- Attempts (``exams/attempts.py``, rules in its docstring): ``start_or_resume``, ``save_answer``,
  ``attempt_state``, ``record_leave``, ``submit``, ``close_expired``, ``grant``, ``void``,
  ``refusal``, ``exams_for``, ``has_passed``, ``passed_theory``.
- Practical exam (``exams/practical.py``, rules in its docstring): ``save_scheme``, ``current_scheme``,
  ``plan_session``, ``assign_examiner``, ``draw_examiners``, ``draw_from``, ``examiner_conflicts``,
  ``booking_refusal``, ``book``, ``cancel_booking``, ``check_in``, ``mark_absent``, ``record_checklist``,
  ``draft``, ``sign``, ``settle_late_evidence``, ``file_appeal``, ``assign_reviewer``, ``decide_appeal``,
  ``verify_results``, ``passed_practical``.
- Analytics for staff (``exams/analytics.py``, rules in its docstring): ``can_view_analytics``,
  ``pass_rates``, ``item_statistics``, ``pass_rates_xlsx``, ``item_statistics_xlsx``.
"""

from .questions import can_manage_bank, restore_question, retire_question, save_question  # noqa: F401
from .papers import check_blueprint, draw_paper, save_blueprint  # noqa: F401
from .xlsx import export_questions, import_questions  # noqa: F401
from .attempts import (  # noqa: F401
    AttemptClosed, attempt_state, close_expired, exams_for, grant, has_passed, passed_theory, record_leave, refusal, save_answer,
    start_or_resume, submit, void,
)
from .analytics import (  # noqa: F401
    can_view_analytics, item_statistics, item_statistics_xlsx, pass_rates, pass_rates_xlsx,
)
from .outcomes import Outcome, outcomes  # noqa: F401,E402
from .practical import (  # noqa: F401,E402
    assign_examiner, assign_reviewer, book, booking_refusal, cancel_booking, check_in, current_scheme, decide_appeal,
    draft, draw_examiners, draw_from, examiner_conflicts, file_appeal, mark_absent, plan_session, record_checklist,
    passed_practical, save_scheme, settle_late_evidence, sign, verify_results,
)
