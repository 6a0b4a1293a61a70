"""Saving exam answers in batches: the group commit of the exam socket (``exams.consumers``).

``save_answers`` applies the rules of ``exams.attempts.save_answer`` (append-only answers, the
server's clock, an attempt past its deadline closed on the spot, the browser's sequence numbers) to
many saves at once, of any trainees and attempts, in one transaction whose cost does not grow with
the number of saves: the attempts are locked together, their items read together, the answers and
their audit records inserted with one statement each. ``save_answer`` (one save, the HTTP
endpoint) is a batch of one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import DatabaseError, transaction
from django.utils.translation import gettext as _

from lms import audit

from .attempts import (
    AttemptClosed,
    _clean_choice,
    _clean_seq,
    _closed_message,
    _counted,
    _grade_and_close,
    displayed,
    remaining_s,
)
from .models import AnswerEvent, Attempt, PaperItem


@dataclass(frozen=True)
class Save:
    """One answer: ``choice`` in the DISPLAYED option positions, at server time ``now``."""

    user: Any
    attempt_id: int
    position: Any
    choice: Any
    client_seq: Any
    now: datetime
    ip: str | None = None


def save_answers(saves: list[Save]) -> list[dict[str, Any] | Exception]:
    """One result per save, in order: the dict ``save_answer`` returns, or the exception it would
    raise (``PermissionDenied``, ``ValidationError``, ``AttemptClosed``). Should the batch fail in the
    database, each save is retried in a transaction of its own, so one save's failure costs the
    others nothing."""
    results: list[dict[str, Any] | Exception | None] = [None] * len(saves)
    good = []
    for i, save in enumerate(saves):
        try:
            if isinstance(save.position, bool) or not isinstance(save.position, int):
                raise ValidationError(_("No such question in this exam."))
            _clean_seq(save.client_seq)
            good.append(i)
        except ValidationError as exc:
            results[i] = exc
    try:
        with transaction.atomic():
            for i, result in zip(good, _save_all([saves[i] for i in good])):
                results[i] = result
        return results
    except (DatabaseError, ObjectDoesNotExist):
        if len(good) == 1:
            raise
    for i in good:
        try:
            with transaction.atomic():
                results[i] = _save_all([saves[i]])[0]
        except (DatabaseError, ObjectDoesNotExist) as exc:
            results[i] = exc
    return results


def _save_all(saves: list[Save]) -> list[dict[str, Any] | Exception]:
    """The batch, inside the caller's transaction."""
    if not saves:
        return []
    ids = {save.attempt_id for save in saves}
    # Only the attempt rows are locked (PostgreSQL: ``of``), in primary-key order.
    attempts = {a.pk: a for a in Attempt.objects.select_for_update(of=("self",)).select_related("blueprint")
                .filter(pk__in=ids).order_by("pk")}
    results: list[Any] = [None] * len(saves)
    for i, save in enumerate(saves):
        attempt = attempts.get(save.attempt_id)
        if attempt is None or save.user is None or attempt.user_id != save.user.pk:
            results[i] = PermissionDenied(_("This is not your exam attempt."))
        elif attempt.status == Attempt.Status.OPEN and save.now >= attempt.deadline_at:
            _grade_and_close(attempt, Attempt.SubmittedBy.TIME_LIMIT, attempt.deadline_at, actor=None)
        if results[i] is None and attempt.status != Attempt.Status.OPEN:
            results[i] = AttemptClosed(_closed_message(attempt), code="closed")
    wanted = {(saves[i].attempt_id, saves[i].position) for i in range(len(saves)) if results[i] is None}
    items = {}
    if wanted:
        for item in (PaperItem.objects.select_related("version")
                     .only("pk", "attempt_id", "position", "option_order", "version__kind")
                     .filter(attempt_id__in={a for a, _p in wanted}, position__in={p for _a, p in wanted})):
            items[(item.attempt_id, item.position)] = item
    events, entries, made = [], [], {}
    for i, save in enumerate(saves):
        if results[i] is not None:
            continue
        item = items.get((save.attempt_id, save.position))
        try:
            if item is None:
                raise ValidationError(_("No such question in this exam."))
            original = _clean_choice(item, save.choice)
        except ValidationError as exc:
            results[i] = exc
            continue
        made[i] = AnswerEvent(item=item, choice=original, saved_at=save.now, client_seq=_clean_seq(save.client_seq))
        events.append(made[i])
    if not events:
        return results
    AnswerEvent.objects.bulk_create(events)
    if any(event.pk is None for event in events):  # a database that returns no ids from a bulk insert
        raise DatabaseError("the inserted answers came back without ids")
    history: dict[int, list] = {}
    for event in (AnswerEvent.objects.filter(item_id__in={e.item_id for e in events})
                  .order_by("item_id", "saved_at", "pk").only("pk", "item_id", "choice", "saved_at", "client_seq")):
        history.setdefault(event.item_id, []).append(event)
    for i, event in made.items():
        save, item, attempt = saves[i], event.item, attempts[saves[i].attempt_id]
        # What counted once this save was stored (later saves of the same batch not yet).
        upto = [e for e in history[item.pk] if (e.saved_at, e.pk) <= (event.saved_at, event.pk)]
        counted = _counted(upto)
        entries.append(audit.build(save.user, "exams.answer_saved", attempt,
                                   object_repr=f"{attempt.blueprint.name} #{attempt.number}", ip=save.ip,
                                   after={"position": save.position, "choice": event.choice,
                                          "client_seq": event.client_seq, "counts": counted.pk == event.pk}))
        results[i] = {"position": save.position, "choice": displayed(item, list(counted.choice)),
                      "counts": counted.pk == event.pk, "saved_at": save.now.isoformat(),
                      "remaining_s": remaining_s(attempt, save.now)}
    audit.record_all(entries)
    return results
