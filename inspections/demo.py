"""Demo inspections (runs after the rest of the demo; safe to run again).

- the 四统一 checklist, version 1, with the items an inspector checks on site;
- a plan for 杭州市 drawn from the demo classes running this week (seed ``demo-2026``), with the inspector
  ``inspector`` (赵敏) assigned to one planned inspection that has not started: she sees it on her phone;
- a past inspection of the 西湖区 refresher class with two findings, one open (with its deadline) and one
  rectified by the instructor and verified by the 杭州市 admin, so the follow-up screens have something to show.
"""

from __future__ import annotations

import datetime
import uuid

from django.utils import timezone

CHECKLIST_NAME = "四统一飞行检查表"
PLAN_NAME = "杭州市应急救护培训飞行检查（演示）"
PAST_PLAN_NAME = "杭州市复训班飞行检查（演示，已完成）"
SEED = "demo-2026"

ITEMS = [
    # 统一大纲
    ("syl.outline", "syllabus", "使用中国红十字会总会统一的培训大纲和《救护员》教材"),
    ("syl.hours", "syllabus", "培训学时符合大纲要求，课程表与实际授课一致"),
    ("syl.content", "syllabus", "授课内容覆盖心肺复苏、AED使用、创伤救护和常见急症等大纲规定内容"),
    # 统一师资标准
    ("ins.cert", "instructor", "授课师资持有有效期内的红十字应急救护师资证书"),
    ("ins.roster", "instructor", "现场授课师资与报备的师资名单一致，无替课"),
    ("ins.ratio", "instructor", "实操训练时每名师资指导的学员人数符合要求"),
    # 统一考核
    ("asm.theory", "assessment", "理论考核使用统一题库组卷，学员独立完成"),
    ("asm.practical", "assessment", "技能考核按统一评分标准进行，考官与授课师资分离（考培分离）"),
    ("asm.records", "assessment", "考核记录完整，成绩如实记录、可追溯"),
    # 统一证书
    ("cer.issue", "certificate", "证书只发给考核合格的学员，使用统一的救护员证书"),
    ("cer.register", "certificate", "发证信息与考核结果一致，证书编号登记完整"),
    # 考勤
    ("att.signin", "attendance", "学员签到记录完整，与花名册一致"),
    ("att.identity", "attendance", "抽查学员身份与报名信息一致，无代训代考"),
    # 模拟人使用
    ("man.enough", "manikins", "模拟人和AED训练机数量满足实操训练需要"),
    ("man.feedback", "manikins", "使用带数据反馈的模拟人，设备完好、运行正常"),
    ("man.hygiene", "manikins", "模拟人面皮和气道按规定清洁消毒或更换"),
    # 安全
    ("saf.venue", "safety", "培训场地安全，通道畅通，消防设施完好"),
    ("saf.kit", "safety", "现场配备急救箱，有突发情况应急预案"),
    ("saf.face_shield", "safety", "实操训练使用一次性呼吸面膜，做好卫生防护"),
]


def checklist():
    from .models import Checklist

    items = [{"code": code, "group": group, "text": text, "kind": "yesno"} for code, group, text in ITEMS]
    obj, _created = Checklist.objects.get_or_create(name=CHECKLIST_NAME, version=1,
                                                    defaults={"items": items, "is_active": True})
    return obj


def load(stdout=None):
    from lms.models import Region, User

    from . import api, permissions
    from .models import Inspection, InspectionPlan

    write = stdout.write if stdout else (lambda s: None)
    sheet = checklist()
    hz = Region.objects.filter(name="杭州市", depth=2).first()
    planner = User.objects.filter(username="hz_admin").first()
    inspector = User.objects.filter(username="inspector").first()
    if hz is None or planner is None or inspector is None:
        write("inspections: the demo regions and logins are missing, skipped\n")
        return
    today = timezone.localdate()

    plan = InspectionPlan.objects.filter(name=PLAN_NAME).first()
    if plan is None:
        try:
            plan = api.create_plan(planner, region=hz, name=PLAN_NAME, period_start=today - datetime.timedelta(days=7),
                                   period_end=today, sample_size=3, checklist=sheet, seed=SEED)
        except Exception as e:  # noqa: BLE001 - no demo class runs this week: say so, go on
            write(f"inspections: no plan drawn ({e})\n")
            plan = None
    if plan is not None and not plan.inspections.filter(inspector=inspector).exists():
        candidates = sorted(plan.inspections.filter(status=Inspection.Status.PLANNED, inspector__isnull=True),
                            key=lambda i: (-i.training_class.enrolments.count(), i.pk))
        for inspection in candidates:
            if not permissions.inspector_refusals(inspector, inspection):
                api.assign_inspector(planner, inspection, inspector)
                break
    if plan is not None:
        write(f"inspections: plan {plan.name}, seed {plan.seed}, {len(plan.drawn)} of {len(plan.population)} "
              "classes drawn\n")

    if not InspectionPlan.objects.filter(name=PAST_PLAN_NAME).exists():
        _past_inspection(planner, inspector, hz, sheet, today, write)


def _past_inspection(planner, inspector, region, sheet, today, write):
    from courses.models import TrainingClass
    from lms.models import User

    from . import api
    from .models import Finding

    past = (TrainingClass.objects.filter(training_base__region__path__startswith=region.path,
                                         ends_on__lt=today - datetime.timedelta(days=7))
            .exclude(status=TrainingClass.Status.CANCELLED).order_by("-ends_on", "pk"))
    # 陈刚's class if the instructors demo made it (his findings join his weak year), else the latest one.
    klass = past.filter(instructors__username="instructor_chen").first() or past.first()
    if klass is None:
        write("inspections: no past demo class, no past inspection\n")
        return
    day = klass.ends_on
    plan = api.create_plan(planner, region=region, name=PAST_PLAN_NAME, period_start=day, period_end=day,
                           sample_size=1, checklist=sheet, seed=SEED + "-past", today=day)
    inspection = plan.inspections.get()
    klass = inspection.training_class
    api.assign_inspector(planner, inspection, inspector)
    started = timezone.make_aware(datetime.datetime.combine(day, datetime.time(9, 30)))
    inspection = api.start_inspection(inspector, inspection, now=started)
    answers = {i["code"]: {"ok": True, "note": ""} for i in sheet.items}
    answers["man.hygiene"] = {"ok": False, "note": "两台模拟人面皮未更换"}
    answers["att.signin"] = {"ok": False, "note": "签到表缺3人签名"}
    enrolments = [e.pk for e in api.roster(inspection)]
    api.save_checklist_change(inspector, inspection, client_id=uuid.uuid4(), body={
        "answers": answers, "present": enrolments, "manikins_in_use": 4,
        "notes": "复训班现场秩序良好；模拟人清洁和签到管理需整改。"})
    api.submit_inspection(inspector, inspection, now=started + datetime.timedelta(hours=2))
    open_one = api.add_finding(inspector, inspection, severity=Finding.Severity.MAJOR,
                               deadline=today + datetime.timedelta(days=14), item_code="man.hygiene",
                               description="两台模拟人面皮和气道未按规定更换，存在交叉感染风险。", today=day)
    verified = api.add_finding(inspector, inspection, severity=Finding.Severity.MINOR,
                               deadline=day + datetime.timedelta(days=7), item_code="att.signin",
                               description="签到表缺3名学员签名，与花名册不一致。", today=day)
    teacher = klass.instructors.first() or User.objects.filter(username="instructor").first()
    if teacher is not None and klass.instructors.filter(pk=teacher.pk).exists():
        api.report_rectification(teacher, verified, note="已补齐签到记录，并改用电子签到与花名册核对。")
        api.verify_finding(planner, verified, note="复核签到记录，与花名册一致。")
    write(f"inspections: past inspection of {klass.name}, findings {open_one.pk} (open) and {verified.pk}\n")
