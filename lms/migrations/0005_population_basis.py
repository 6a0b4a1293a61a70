"""Population figures say their basis (户籍 registered / 常住 resident) and whether they are demo figures."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("lms", "0004_privacy")]

    operations = [
        migrations.RenameField("regionpopulation", "registered_population", "population"),
        migrations.AlterField("regionpopulation", "population", models.PositiveIntegerField(verbose_name="population")),
        migrations.AddField(
            "regionpopulation", "basis",
            models.CharField(choices=[("registered", "Registered population"), ("resident", "Resident population")],
                             default="registered", max_length=16, verbose_name="basis"),
        ),
        migrations.AddField(
            "regionpopulation", "is_demo",
            models.BooleanField(default=False, help_text="A made-up figure for the demo, not a statistic",
                                verbose_name="demo figure"),
        ),
        migrations.AlterModelOptions(
            "regionpopulation",
            options={"verbose_name": "population figure", "verbose_name_plural": "population figures"},
        ),
    ]
