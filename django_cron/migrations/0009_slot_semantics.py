# What a pause and an overlap mean: the slots each skipped, counted, and when the
# job last started and ended a run, whichever schedule it ran for.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('django_cron', '0008_operator_keys_and_audit'),
    ]

    operations = [
        migrations.AddField(
            model_name='jobstate',
            name='busy_from',
            field=models.DateTimeField(blank=True, null=True, verbose_name='last run started'),
        ),
        migrations.AddField(
            model_name='jobstate',
            name='busy_until',
            field=models.DateTimeField(blank=True, null=True, verbose_name='last run ended'),
        ),
        migrations.AddField(
            model_name='jobstate',
            name='busy_with',
            field=models.BigIntegerField(blank=True, null=True, verbose_name='last run for'),
        ),
        migrations.AddField(
            model_name='jobstate',
            name='skipped_overlap',
            field=models.PositiveIntegerField(default=0, verbose_name='slots skipped while running'),
        ),
        migrations.AddField(
            model_name='jobstate',
            name='skipped_paused',
            field=models.PositiveIntegerField(default=0, verbose_name='slots skipped while paused'),
        ),
        migrations.AddField(
            model_name='jobstate',
            name='waited_until',
            field=models.DateTimeField(blank=True, null=True, verbose_name='last run waited until'),
        ),
    ]
