from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from lms import api


class Command(BaseCommand):
    help = "Import regions and population from an .xlsx (省, 市, 县, 区划代码, 年份, 户籍人口 or 常住人口, 口径, 来源). All rows or none."

    def add_arguments(self, parser):
        parser.add_argument("path")

    def handle(self, *args, path, **options):
        try:
            with open(path, "rb") as f:
                counts = api.import_regions_xlsx(None, f)
        except FileNotFoundError as exc:
            raise CommandError(f"no such file: {path}") from exc
        except ValidationError as exc:
            raise CommandError("\n".join(exc.messages)) from exc
        self.stdout.write(self.style.SUCCESS(
            "regions created: {regions_created}, populations created: {populations_created}, "
            "updated: {populations_updated}".format(**counts)))
