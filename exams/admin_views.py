"""Question bank and blueprint administration (/admin/exam-bank/): for system admins and province admins.

Thin views over ``exams.questions``, ``exams.xlsx`` and ``exams.papers``, in the Wagtail admin
(``exams/wagtail_hooks.py`` mounts them and adds the Exams menu; ``exams.auth`` lets province admins
in). Wagtail sends whoever may not use the admin to its login page; anyone inside it who does not
manage the bank gets 403 here (``can_manage_bank``).
"""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from courses.models import Programme
from lms.views import _add_errors

from . import papers, questions, xlsx
from .models import MAX_OPTIONS, Blueprint, Difficulty, Kind, Question

LETTERS = "ABCDE"[:MAX_OPTIONS]


def _require_manager(user) -> None:
    if not questions.can_manage_bank(user):
        raise PermissionDenied(_("The question bank is managed by system admins and province admins."))


def _module_pages():
    from content.models import ModulePage

    return ModulePage.objects.live().order_by("path")


# ---------------------------------------------------------------- questions


class QuestionFilter(forms.Form):
    q = forms.CharField(label=gettext_lazy("Search code or text"), required=False, max_length=100)
    module = forms.ModelChoiceField(label=gettext_lazy("Module"), queryset=None, required=False)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), required=False)
    difficulty = forms.ChoiceField(label=gettext_lazy("Difficulty"), required=False)
    active = forms.ChoiceField(label=gettext_lazy("Status"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["module"].queryset = _module_pages()
        self.fields["module"].empty_label = _("All modules")
        self.fields["kind"].choices = [("", _("All kinds"))] + list(Kind.choices)
        self.fields["difficulty"].choices = [("", _("All difficulties"))] + [(str(v), l) for v, l in Difficulty.choices]
        self.fields["active"].choices = [("", _("All")), ("1", pgettext("exam bank", "Active")), ("0", _("Retired"))]

    def apply(self, qs):
        if not self.is_valid():
            return qs
        d = self.cleaned_data
        if d["q"]:
            qs = qs.filter(Q(code__icontains=d["q"]) | Q(current__stem__icontains=d["q"]))
        if d["module"]:
            qs = qs.filter(module=d["module"])
        if d["kind"]:
            qs = qs.filter(current__kind=d["kind"])
        if d["difficulty"]:
            qs = qs.filter(current__difficulty=int(d["difficulty"]))
        if d["active"]:
            qs = qs.filter(is_active=d["active"] == "1")
        return qs

    def query(self) -> str:
        if not self.is_valid():
            return ""
        return urlencode({k: (v.pk if hasattr(v, "pk") else v) for k, v in self.cleaned_data.items() if v})


@login_required
@require_GET
def question_list(request):
    _require_manager(request.user)
    filters = QuestionFilter(request.GET or None)
    qs = filters.apply(Question.objects.select_related("current", "module").order_by("code"))
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "exams/admin/questions.html", {
        "filters": filters, "page": page, "pager_query": filters.query(), "total": Question.objects.count()})


class QuestionForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Question code"), max_length=32,
                           help_text=gettext_lazy("Letters, digits and hyphens, e.g. JHY-CPR-001"))
    module = forms.ModelChoiceField(label=gettext_lazy("Module"), queryset=None)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=Kind.choices)
    difficulty = forms.TypedChoiceField(label=gettext_lazy("Difficulty"), choices=Difficulty.choices, coerce=int)
    stem = forms.CharField(label=gettext_lazy("Question text"), widget=forms.Textarea(attrs={"rows": 3}))
    option_a = forms.CharField(label=gettext_lazy("Option A"), required=False)
    option_b = forms.CharField(label=gettext_lazy("Option B"), required=False)
    option_c = forms.CharField(label=gettext_lazy("Option C"), required=False)
    option_d = forms.CharField(label=gettext_lazy("Option D"), required=False)
    option_e = forms.CharField(label=gettext_lazy("Option E"), required=False)
    correct = forms.MultipleChoiceField(
        label=gettext_lazy("Correct answer"), choices=[(c, c) for c in LETTERS], widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("True/false questions: A = 正确 (true), B = 错误 (false); their options are set "
                               "for you."))
    explanation = forms.CharField(label=gettext_lazy("Explanation"), widget=forms.Textarea(attrs={"rows": 3}))
    tags = forms.CharField(label=gettext_lazy("Tags"), required=False,
                           help_text=gettext_lazy("Separated by 、"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["module"].queryset = _module_pages()

    @staticmethod
    def initial_for(question: Question) -> dict:
        v = question.current
        out = {"code": question.code, "module": question.module_id, "kind": v.kind, "difficulty": v.difficulty,
               "stem": v.stem, "explanation": v.explanation, "tags": "、".join(v.tags),
               "correct": [LETTERS[i] for i in v.correct]}
        if v.kind != Kind.TRUE_FALSE:
            for letter, text in zip(LETTERS, v.options):
                out[f"option_{letter.lower()}"] = text
        return out

    def values(self) -> dict:
        d = self.cleaned_data
        options = [d[f"option_{c.lower()}"] for c in LETTERS]
        if d["kind"] == Kind.TRUE_FALSE:
            options = []
        return {"code": d["code"], "module": d["module"], "kind": d["kind"], "difficulty": d["difficulty"],
                "stem": d["stem"], "options": options, "correct": [LETTERS.index(c) for c in d["correct"]],
                "explanation": d["explanation"],
                "tags": [t for t in d["tags"].replace(",", "、").replace("，", "、").split("、") if t.strip()]}


def _question_or_404(pk: int) -> Question:
    try:
        return Question.objects.select_related("current", "module").get(pk=pk)
    except Question.DoesNotExist:
        raise Http404 from None


@login_required
@require_http_methods(["GET", "POST"])
def question_edit(request, pk: int | None = None):
    _require_manager(request.user)
    question = _question_or_404(pk) if pk is not None else None
    if request.method == "POST":
        form = QuestionForm(request.POST)
        if form.is_valid():
            try:
                version = questions.save_question(request.user, question=question, **form.values())
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, _("Question %(code)s saved (version %(n)s).")
                                 % {"code": version.question.code, "n": version.number})
                return redirect("exam_bank:question", pk=version.question_id)
    else:
        form = QuestionForm(initial=QuestionForm.initial_for(question) if question and question.current else None)
    versions = []
    if question is not None:
        versions = question.versions.annotate(
            uses=Count("paper_items"), attempts=Count("paper_items__attempt", distinct=True)).order_by("-number")
    return render(request, "exams/admin/question_form.html",
                  {"form": form, "question": question, "versions": versions})


@login_required
@require_POST
def question_active(request, pk: int):
    _require_manager(request.user)
    question = _question_or_404(pk)
    if request.POST.get("active") == "1":
        questions.restore_question(request.user, question)
        messages.success(request, _("Question %(code)s is drawn for new papers again.") % {"code": question.code})
    else:
        questions.retire_question(request.user, question)
        messages.success(request, _("Question %(code)s is retired: it is no longer drawn for new papers.")
                         % {"code": question.code})
        for bp in Blueprint.objects.filter(is_active=True, rules__module=question.module_id).distinct():
            for problem in papers.shortages(bp.rules.select_related("module")):
                messages.warning(request, _("The active blueprint %(name)s cannot be drawn any more: %(problem)s")
                                 % {"name": bp.name, "problem": problem})
    return redirect("exam_bank:question", pk=question.pk)


# ---------------------------------------------------------------- import and export


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Question file (.xlsx)"))
    good_rows_only = forms.BooleanField(
        label=gettext_lazy("Import only the good rows"), required=False,
        help_text=gettext_lazy("Otherwise nothing is imported while any row is bad."))


@login_required
@require_http_methods(["GET", "POST"])
def question_import(request):
    _require_manager(request.user)
    result = None
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            f = form.cleaned_data["file"]
            try:
                result = xlsx.import_questions(request.user, f, good_rows_only=form.cleaned_data["good_rows_only"],
                                               file_name=f.name)
            except ValidationError as exc:
                _add_errors(form, exc)
    else:
        form = ImportForm()
    summary = None
    if result is not None:
        summary = {s: result.count(s) for s in ("created", "changed", "versioned", "unchanged", "skipped")}
    return render(request, "exams/admin/import.html",
                  {"form": form, "result": result, "summary": summary, "columns": xlsx.COLUMNS})


@login_required
@require_GET
def question_export(request):
    _require_manager(request.user)
    filters = QuestionFilter(request.GET or None)
    data = xlsx.export_questions(filters.apply(Question.objects.all()))
    resp = HttpResponse(data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    name = f"question-bank-{timezone.localdate():%Y%m%d}.xlsx"
    resp["Content-Disposition"] = f'attachment; filename="{name}"'
    return resp


# ---------------------------------------------------------------- blueprints


@login_required
@require_GET
def blueprint_list(request):
    _require_manager(request.user)
    blueprints = (Blueprint.objects.select_related("programme").prefetch_related("rules__module")
                  .annotate(n_attempts=Count("attempts")).order_by("programme__name", "-is_active", "name"))
    return render(request, "exams/admin/blueprints.html", {"blueprints": blueprints})


class BlueprintForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=128)
    programme = forms.ModelChoiceField(label=gettext_lazy("Programme"), queryset=Programme.objects.order_by("name"))
    is_active = forms.BooleanField(label=pgettext_lazy("exam bank", "Active"), required=False, initial=True,
                                   help_text=gettext_lazy("A programme has at most one active blueprint"))
    time_limit_min = forms.IntegerField(label=gettext_lazy("Time limit (minutes)"), min_value=1, max_value=240,
                                        initial=45)
    pass_mark_pct = forms.DecimalField(label=gettext_lazy("Pass mark (%)"), min_value=0, max_value=100,
                                       decimal_places=2, initial=Decimal(80))
    attempts_allowed = forms.IntegerField(label=gettext_lazy("Attempts allowed"), min_value=1, initial=3)
    wait_h = forms.DecimalField(label=gettext_lazy("Wait between attempts (hours)"), min_value=0, decimal_places=2,
                                initial=0)
    opens_at = forms.DateTimeField(label=gettext_lazy("Opens at"), required=False,
                                   widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                   help_text=gettext_lazy("Empty: open from now on"))
    closes_at = forms.DateTimeField(label=gettext_lazy("Closes at"), required=False,
                                    widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                    help_text=gettext_lazy("Empty: never closes"))
    show_explanations = forms.BooleanField(label=gettext_lazy("Show explanations after submission"), required=False,
                                           initial=True)
    leave_limit = forms.IntegerField(
        label=gettext_lazy("Leave limit"), required=False, min_value=0,
        help_text=gettext_lazy("Leaving the exam page more often than this submits the attempt; empty: leaves are "
                               "only recorded"))

    def values(self) -> dict:
        d = self.cleaned_data
        return {"name": d["name"], "programme": d["programme"], "is_active": d["is_active"],
                "time_limit_s": d["time_limit_min"] * 60, "pass_mark_pct": d["pass_mark_pct"],
                "attempts_allowed": d["attempts_allowed"], "wait_between_attempts_s": int(d["wait_h"] * 3600),
                "opens_at": d["opens_at"], "closes_at": d["closes_at"],
                "show_explanations": d["show_explanations"], "leave_limit": d["leave_limit"]}

    @staticmethod
    def initial_for(bp: Blueprint) -> dict:
        local = timezone.localtime
        return {"name": bp.name, "programme": bp.programme_id, "is_active": bp.is_active,
                "time_limit_min": bp.time_limit_s // 60, "pass_mark_pct": bp.pass_mark_pct,
                "attempts_allowed": bp.attempts_allowed,
                "wait_h": (Decimal(bp.wait_between_attempts_s) / 3600).quantize(Decimal("0.01")),
                "opens_at": local(bp.opens_at).strftime("%Y-%m-%dT%H:%M") if bp.opens_at else None,
                "closes_at": local(bp.closes_at).strftime("%Y-%m-%dT%H:%M") if bp.closes_at else None,
                "show_explanations": bp.show_explanations, "leave_limit": bp.leave_limit}


class RuleForm(forms.Form):
    module = forms.ModelChoiceField(label=gettext_lazy("Module"), queryset=None, required=False)
    difficulty = forms.TypedChoiceField(label=gettext_lazy("Difficulty"), choices=Difficulty.choices, coerce=int,
                                        required=False)
    count = forms.IntegerField(label=gettext_lazy("Number of questions"), min_value=1, required=False)
    points_each = forms.IntegerField(label=gettext_lazy("Points each"), min_value=1, initial=1, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["module"].queryset = _module_pages()


RuleFormSet = forms.formset_factory(RuleForm, extra=3, max_num=60)


def _blueprint_or_404(pk: int) -> Blueprint:
    try:
        return Blueprint.objects.select_related("programme").get(pk=pk)
    except Blueprint.DoesNotExist:
        raise Http404 from None


@login_required
@require_http_methods(["GET", "POST"])
def blueprint_edit(request, pk: int | None = None):
    _require_manager(request.user)
    blueprint = _blueprint_or_404(pk) if pk is not None else None
    if request.method == "POST":
        form = BlueprintForm(request.POST)
        rules = RuleFormSet(request.POST, prefix="rules")
        if form.is_valid() and rules.is_valid():
            chosen = [r.cleaned_data for r in rules if r.cleaned_data.get("module") or r.cleaned_data.get("count")]
            try:
                bp = papers.save_blueprint(request.user, blueprint=blueprint, rules=chosen, **form.values())
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, _("Blueprint %(name)s saved.") % {"name": bp.name})
                return redirect("exam_bank:blueprints")
    else:
        form = BlueprintForm(initial=BlueprintForm.initial_for(blueprint) if blueprint else None)
        initial = [{"module": r.module_id, "difficulty": r.difficulty, "count": r.count, "points_each": r.points_each}
                   for r in blueprint.rules.order_by("module__path", "difficulty")] if blueprint else []
        rules = RuleFormSet(prefix="rules", initial=initial)
    return render(request, "exams/admin/blueprint_form.html",
                  {"form": form, "rules": rules, "blueprint": blueprint, "bank": _bank_counts()})


def _bank_counts() -> list[dict]:
    """Active questions per module and difficulty: what rules can ask for."""
    rows: dict[int, dict] = {}
    for r in (Question.objects.filter(is_active=True, current__isnull=False)
              .values("module_id", "module__title", "module__path", "current__difficulty")
              .annotate(n=Count("id"))):
        row = rows.setdefault(r["module_id"], {"title": r["module__title"], "path": r["module__path"],
                                                "counts": {d: 0 for d in Difficulty.values}})
        row["counts"][r["current__difficulty"]] = r["n"]
    return [{"title": r["title"], "counts": [r["counts"][d] for d in Difficulty.values]}
            for r in sorted(rows.values(), key=lambda r: r["path"])]
