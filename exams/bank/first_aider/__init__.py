"""The 救护员 (certified first-aider) theory-exam question bank, one file per course module.

``MODULE_ORDER``: the course's module slugs in course order; ``QUESTIONS``: every question, module by
module in that order. Validate with ``exams.bank.validate`` (``exams.bank.first_aider()`` does).
"""

from . import q1_overview, q2_cpr_aed, q3_airway, q4_bleeding, q5_fracture, q6_emergencies, q7_accidents

_FILES = (q1_overview, q2_cpr_aed, q3_airway, q4_bleeding, q5_fracture, q6_emergencies, q7_accidents)

MODULE_ORDER = (
    "overview",
    "cpr-aed",
    "airway-obstruction",
    "bleeding-bandaging",
    "fracture-transport",
    "medical-emergencies",
    "accidents",
)

QUESTIONS = [q for f in _FILES for q in f.QUESTIONS]
