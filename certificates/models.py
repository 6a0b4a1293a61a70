"""Certificates. So far: the number sequences (``NumberSequence``) that certificate numbers are drawn
from (``certificates/numbering.py`` says how a number is made from one)."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _


def _new_key() -> str:
    return secrets.token_hex(32)


class NumberSequence(models.Model):
    """One (region, year) sequence of a number format. Its permutation key is made once with the row and
    never changes: the printed serials of one sequence are a permutation of its counter under one key,
    so they never collide, whatever happens to the settings or the other sequences."""

    spec = models.CharField(_("number format"), max_length=100)
    region_code = models.CharField(_("division code"), max_length=12)
    year = models.PositiveSmallIntegerField(_("year"))
    next_value = models.PositiveBigIntegerField(default=0)
    key = models.CharField(max_length=64, default=_new_key, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("certificate number sequence")
        verbose_name_plural = _("certificate number sequences")
        constraints = [models.UniqueConstraint(fields=["spec", "region_code", "year"], name="uniq_number_sequence")]

    def __str__(self) -> str:
        return f"{self.spec} · {self.region_code} · {self.year}"
