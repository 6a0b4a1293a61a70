"""The courses app's personal data: enrolments, study progress and the rosters a person uploaded
(see ``lms.privacy`` for the declarations API)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from lms import privacy

from .models import Enrolment, LessonProgress, QuestionAnswer, RosterImport, StudyClock, VideoProgress


def _export_enrolments(person) -> privacy.Rows:
    rows = []
    for e in (Enrolment.objects.filter(user=person).select_related("training_class__programme",
                                                                    "training_class__training_base")
              .order_by("enrolled_at", "pk")):
        c = e.training_class
        rows.append({"class": c.name, "class_code": c.code, "programme": c.programme.name,
                     "training_base": c.training_base.name, "starts_on": c.starts_on, "ends_on": c.ends_on,
                     "enrolled_at": e.enrolled_at, "source": str(e.get_source_display()),
                     "status": str(e.get_status_display()),
                     "chosen_modules": [m.module_page.title for m in e.chosen_modules.select_related("module_page")]})
    return rows


def _export_study(person) -> privacy.Rows:
    rows = []
    for p in LessonProgress.objects.filter(user=person).select_related("lesson").order_by("first_seen_at", "pk"):
        rows.append({"kind": "lesson", "lesson": p.lesson.title, "seconds_on_task": p.seconds_on_task,
                     "first_seen_at": p.first_seen_at, "last_credited_at": p.last_credited_at,
                     "completed_at": p.completed_at})
    for v in VideoProgress.objects.filter(user=person).select_related("lesson").order_by("pk"):
        rows.append({"kind": "video", "lesson": v.lesson.title, "video": v.video_key, "played_s": v.played_s,
                     "duration_s": v.duration_s, "played_ranges": v.played_ranges, "watched_at": v.watched_at})
    for a in QuestionAnswer.objects.filter(user=person).select_related("lesson").order_by("answered_at", "pk"):
        rows.append({"kind": "practice answer", "lesson": a.lesson.title, "question": a.question_key,
                     "choice": a.choice, "correct": a.correct, "tries": a.tries, "answered_at": a.answered_at})
    clock = StudyClock.objects.filter(user=person).first()
    if clock is not None:
        rows.append({"kind": "study clock", "credited_until": clock.credited_until})
    return rows


def _anonymise_study(person) -> dict[str, int]:
    """Erase the detail of how the person studied; keep which lessons they finished and their time."""
    return {
        "video_progress": VideoProgress.objects.filter(user=person).delete()[0],
        "practice_answers": QuestionAnswer.objects.filter(user=person).delete()[0],
        "study_clock": StudyClock.objects.filter(user=person).delete()[0],
    }


def _export_rosters(person) -> privacy.Rows:
    return [{"class": r.training_class.name, "uploaded_at": r.uploaded_at, "file_name": r.file_name,
             "outcome": str(r.get_outcome_display()), "rows": r.rows_total, "bad_rows": r.rows_bad,
             "people_created": r.people_created, "enrolments_created": r.enrolments_created}
            for r in RosterImport.objects.filter(uploaded_by=person).select_related("training_class")
            .order_by("uploaded_at", "pk")]


privacy.register(privacy.Declaration(
    key="courses.enrolments", order=150,
    title=gettext_lazy("Class enrolments"),
    models=["courses.Enrolment"],
    holds=gettext_lazy("The classes (培训班) you enrolled in, how (class code, roster, admin), when, their status "
                       "and the optional modules you chose."),
    export=_export_enrolments,
    anonymise=None,
    kept=[(gettext_lazy("Enrolments, attributed to “Deleted user #id”"),
           gettext_lazy("A class's records (who took part, its capacity) and the certificates issued on it stay "
                        "verifiable; they no longer name the person"))],
))
privacy.register(privacy.Declaration(
    key="courses.study", order=151,
    title=gettext_lazy("Online study"),
    models=["courses.LessonProgress", "courses.StudyClock", "courses.VideoProgress", "courses.QuestionAnswer"],
    holds=gettext_lazy("Your online theory study: time on task per lesson (counted from the page's heartbeats), "
                       "which seconds of each video you played, your practice answers, and which lessons you finished."),
    export=_export_study,
    anonymise=_anonymise_study,
    erased=[gettext_lazy("The seconds of each video you played"), gettext_lazy("Your practice answers"),
            gettext_lazy("Your study clock (when you last studied)")],
    kept=[(gettext_lazy("Time on task and completion of each lesson"),
           gettext_lazy("Finishing the theory is a condition of the exam and the certificate, which stay verifiable"))],
))
privacy.register(privacy.Declaration(
    key="courses.rosters", order=152,
    title=gettext_lazy("Rosters uploaded"),
    models=["courses.RosterImport"],
    holds=gettext_lazy("The class rosters you uploaded as an admin: the file's name, when, and how many rows were "
                       "imported or refused (the people in them are shown masked)."),
    export=_export_rosters,
    anonymise=None,
    kept=[(gettext_lazy("Rosters you uploaded, attributed to “Deleted user #id”"),
           gettext_lazy("How people came to be enrolled in a class stays auditable"))],
))


def _export_classes_run(person) -> privacy.Rows:
    """Classes the person teaches (an instructor) or opened (an admin)."""
    from django.db.models import Q

    from .models import TrainingClass

    rows = []
    for c in (TrainingClass.objects.filter(Q(instructors=person) | Q(created_by=person)).distinct()
              .select_related("programme", "training_base").order_by("starts_on", "pk")):
        rows.append({"class": c.name, "programme": c.programme.name, "organisation": c.training_base.name,
                     "starts_on": c.starts_on, "ends_on": c.ends_on,
                     "instructor": c.instructors.filter(pk=person.pk).exists(),
                     "opened_by_you": c.created_by_id == person.pk})
    return rows


privacy.register(privacy.Declaration(
    key="courses.classes_run", order=153,
    title=gettext_lazy("Classes taught or opened"),
    models=["courses.TrainingClass"],
    holds=gettext_lazy("The classes you teach as an instructor or opened as an admin."),
    export=_export_classes_run,
    anonymise=None,
    kept=[(gettext_lazy("Who taught and who opened each class, attributed to “Deleted user #id”"),
           gettext_lazy("The training record behind each certificate names its class and instructors"))],
))
privacy.not_personal("courses.Programme", gettext_lazy("Programmes (a programme's name)"))
