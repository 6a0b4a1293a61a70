"""Demo data: Zhejiang's regions, a few organisations, one login per role. Idempotent."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from . import api, protection
from .models import Organisation, PrivacyConsent, Region, RegionPopulation, Role, RoleAssignment, User

DATA = Path(__file__).parent / "data" / "zhejiang_regions.json"
DEMO_PASSWORD = "Demo@2026"


def region_rows() -> list[api.RegionRow]:
    """Zhejiang from the 2020 census: province and city figures are resident (常住) population;
    county figures are demo figures (the city's split evenly), marked as such wherever shown."""
    data = json.loads(DATA.read_text())
    year, prov = data["year"], data["province"]
    resident = RegionPopulation.Basis.RESIDENT
    rows = [api.RegionRow(province=prov["name"], code=prov["code"], year=year, population=prov["population"],
                          basis=resident, source=data["source_city"])]
    for city in data["cities"]:
        rows.append(api.RegionRow(province=prov["name"], city=city["name"], code=city["code"], year=year,
                                  population=city["population"], basis=resident, source=data["source_city"]))
        share, rest = divmod(city["population"], len(city["counties"]))
        for i, county in enumerate(city["counties"]):
            rows.append(api.RegionRow(province=prov["name"], city=city["name"], county=county["name"],
                                      code=county["code"], year=year, population=share + (1 if i < rest else 0),
                                      basis=resident, is_demo=True, source=data["source_county"]))
    return rows


def _region(*names: str) -> Region:
    node = Region.get_root_nodes().get(name=names[0])
    for name in names[1:]:
        node = node.get_children().get(name=name)
    return node


def _demo_id_card(region_code: str, birth: str, serial: int) -> str:
    first17 = f"{region_code}{birth}{serial:03d}"
    return first17 + protection.id_card_check_char(first17)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    real_name: str
    role: str
    region: tuple[str, ...]
    admin_region: tuple[str, ...] | None = None
    phone: str = ""


DEMO_USERS = [
    DemoLogin("admin", "系统管理员", Role.SYSTEM_ADMIN, ("浙江省",), phone="13800000001"),
    DemoLogin("zj_admin", "省红会管理员", Role.REGION_ADMIN, ("浙江省",), ("浙江省",), "13800000002"),
    DemoLogin("hz_admin", "杭州市红会管理员", Role.REGION_ADMIN, ("浙江省", "杭州市"), ("浙江省", "杭州市"), "13800000003"),
    DemoLogin("xihu_admin", "西湖区红会管理员", Role.REGION_ADMIN, ("浙江省", "杭州市", "西湖区"),
              ("浙江省", "杭州市", "西湖区"), "13800000004"),
    DemoLogin("instructor", "王芳", Role.INSTRUCTOR, ("浙江省", "杭州市", "西湖区"), phone="13900001111"),
    DemoLogin("examiner", "李强", Role.EXAMINER, ("浙江省", "杭州市", "西湖区"), phone="13900002222"),
    # Examines in another district: the second examiner who reviews a practical exam's appeal.
    DemoLogin("examiner2", "周杰", Role.EXAMINER, ("浙江省", "杭州市", "上城区"), phone="13900005555"),
    DemoLogin("inspector", "赵敏", Role.INSPECTOR, ("浙江省", "杭州市"), phone="13900003333"),
    DemoLogin("trainee", "张伟", Role.TRAINEE, ("浙江省", "杭州市", "西湖区"), phone="13700004444"),
    DemoLogin("trainee_nb", "陈静", Role.TRAINEE, ("浙江省", "宁波市", "北仑区"), phone="13700005555"),
    # Has not agreed to the privacy notice yet: the notice is the first page after signing in.
    DemoLogin("trainee_new", "林晓", Role.TRAINEE, ("浙江省", "杭州市", "西湖区"), phone="13700006666"),
    # 单位管理员 of a school in 西湖区: opens the school's classes and uploads the cohort's roster (/classes/).
    DemoLogin("school_admin", "何老师", Role.ORG_ADMIN, ("浙江省", "杭州市", "西湖区"), phone="13900004444"),
]
# Every demo login but these has agreed to the current privacy notice (lms.privacy).
DEMO_NOT_CONSENTED = {"trainee_new"}

DEMO_ORGANISATIONS = [
    ("杭州市红十字应急救护培训基地（演示）", Organisation.Kind.TRAINING_BASE, ("浙江省", "杭州市", "西湖区")),
    ("西湖区应急救护考点（演示）", Organisation.Kind.EXAM_SITE, ("浙江省", "杭州市", "西湖区")),
    ("王芳名师工作室（演示）", Organisation.Kind.STUDIO, ("浙江省", "杭州市", "西湖区")),
    ("杭州市示范中学（演示）", Organisation.Kind.SCHOOL, ("浙江省", "杭州市", "拱墅区")),
    ("宁波港物流公司（演示）", Organisation.Kind.EMPLOYER, ("浙江省", "宁波市", "北仑区")),
    ("西湖区求是中学（演示）", Organisation.Kind.SCHOOL, ("浙江省", "杭州市", "西湖区")),
]


def _demo_organisation(login: DemoLogin) -> Organisation | None:
    """Examiners work at the exam site, instructors and local trainees at the training base."""
    if login.region[-1] != "西湖区":
        return None
    if login.role == Role.ORG_ADMIN:
        return Organisation.objects.get(name=DEMO_ORGANISATIONS[5][0])
    if login.role == Role.EXAMINER:
        return Organisation.objects.get(name=DEMO_ORGANISATIONS[1][0])
    if login.role in (Role.INSTRUCTOR, Role.TRAINEE):
        return Organisation.objects.get(name=DEMO_ORGANISATIONS[0][0])
    return None


def load(stdout=None) -> list[DemoLogin]:
    write = stdout.write if stdout else (lambda s: None)
    with transaction.atomic():
        counts = api.import_regions(None, region_rows())
        write(f"regions: {counts}\n")
        for name, kind, where in DEMO_ORGANISATIONS:
            region = _region(*where)
            if not Organisation.objects.filter(region=region, name=name).exists():
                api.create_organisation(None, name=name, kind=kind, region=region)
        for i, login in enumerate(DEMO_USERS, start=1):
            region = _region(*login.region)
            user = User.objects.filter(username=login.username).first()
            if user is None:
                code = region.code or (region.get_parent().code if region.get_parent() else "") or "330000"
                user = api.create_person(
                    None, username=login.username, real_name=login.real_name, region=region,
                    password=DEMO_PASSWORD, phone=login.phone,
                    id_card=_demo_id_card(code[:6].ljust(6, "0"), f"199{i % 10}0{(i % 9) + 1}1{i % 10}", 100 + i),
                    organisation=_demo_organisation(login),
                    roles=[] if login.role == Role.SYSTEM_ADMIN else
                    ([login.role] if login.role != Role.REGION_ADMIN else []),
                )
            else:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            if login.role == Role.SYSTEM_ADMIN:
                user.is_staff = user.is_superuser = True
                user.save(update_fields=["is_staff", "is_superuser"])
                RoleAssignment.objects.get_or_create(user=user, role=Role.SYSTEM_ADMIN, region=None)
            elif login.role == Role.REGION_ADMIN:
                api.assign_role(None, user, Role.REGION_ADMIN, region=_region(*login.admin_region))
            if login.username not in DEMO_NOT_CONSENTED:
                PrivacyConsent.objects.get_or_create(user=user, version=settings.PRIVACY_NOTICE_VERSION,
                                                     defaults={"sensitive": True})
        _demo_person_who_left()
    return DEMO_USERS


def _demo_person_who_left() -> None:
    """A trainee of 西湖区 who left, anonymised by the county admin: the people list shows "已注销用户 #id"."""
    if User.objects.filter(anonymised_at__isnull=False).exists():
        return
    region = _region("浙江省", "杭州市", "西湖区")
    person = api.create_person(None, username="demo_left", real_name="周离", region=region, phone="13700007777",
                               id_card=_demo_id_card("330106", "19950505", 199))
    api.anonymise_person(User.objects.get(username="xihu_admin"), person,
                         reason="演示：已离开培训体系（2026-10-31）", confirm_name="周离")
