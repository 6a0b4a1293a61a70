from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from lms import demo


class Command(BaseCommand):
    help = "Load the demo data (Zhejiang regions, organisations, one login per role). Safe to run again."

    def handle(self, *args, **options):
        logins = demo.load(self.stdout)
        from manikin import demo as manikin_demo

        manikin_demo.load(self.stdout)
        from content.course.load import load_demo as course_demo

        course_demo(self.stdout)  # the 救护员 course, programmes, the demo class and its code
        from exams import demo as exams_demo

        exams_demo.load(self.stdout)  # the 救护员 question bank and the 救护员取证 exam blueprint
        from exams import demo_attempts

        demo_attempts.load(self.stdout)  # exam_passed and exam_failed: theory done, one attempt each
        from exams import demo_analytics

        demo_analytics.load(self.stdout)  # two demo classes' exam history for the analytics pages
        from instructors import demo as instructors_demo

        instructors_demo.load_standing(self.stdout)  # tiers, instructor profiles and their 救护师资证
        from exams import demo_practical

        demo_practical.load(self.stdout)  # the practical exam scheme, today's session, a signed and appealed sitting
        from certificates import demo as certificates_demo

        certificates_demo.load(self.stdout)  # certificate rules, 孙悦's certificate, a 2023 class's certificates
        instructors_demo.load_history(self.stdout)  # this year's teaching, scored sittings, assessment proposals
        from instructors import demo_studios

        demo_studios.load(self.stdout)  # two studios (名师工作室) with members, a class each, a showcase course
        from inspections import demo as inspections_demo

        inspections_demo.load(self.stdout)  # the 四统一 checklist, a plan for 杭州市, a planned and a past inspection
        instructors_demo.propose(self.stdout)  # the year's assessment of 西湖区, proposed for xihu_admin to decide
        from dashboards import demo as dashboards_demo

        dashboards_demo.load(self.stdout)  # last: the plans' targets, six years of awareness training, the cells
        self.stdout.write(self.style.SUCCESS("\nDemo logins (password for all: %s)" % demo.DEMO_PASSWORD))
        for login in logins:
            where = "".join(login.admin_region or login.region)
            self.stdout.write(f"  {login.username:<12} {login.real_name:<10} {_(login.role.label)} · {where}")
        # The people the other demo modules made who can sign in (exam_passed, holder, graduate, …): every
        # demo person with a usable password is a login.
        from lms.models import Role, User

        shown = {login.username for login in logins}
        people = (User.objects.exclude(username__in=shown).exclude(password__startswith="!").exclude(password="")
                  .select_related("region").order_by("pk"))
        for user in people:
            roles = [label for value, label in Role.choices if value in user.role_set]
            role = _(roles[0]) if roles else "—"
            where = user.region.full_name if user.region else ""
            self.stdout.write(f"  {user.username:<12} {user.real_name:<10} {role} · {where}")
