# What a pause, an overlap and a limit on runs mean: the slots skipped, counted;
# when the job last started and ended a run, whichever schedule it ran for; and
# its successful runs, for times=N.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('django_cron', '0008_operator_keys_and_audit'),
    ]

    operations = [
        migrations.AddField(
            model_name='jobschedule',
            name='times',
            field=models.PositiveIntegerField(blank=True, help_text='Stop after this many successful runs; blank for no limit.', null=True, verbose_name='times'),
        ),
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
            name='successes',
            field=models.PositiveIntegerField(default=0, verbose_name='successful runs'),
        ),
        migrations.AddField(
            model_name='jobstate',
            name='waited_until',
            field=models.DateTimeField(blank=True, null=True, verbose_name='last run waited until'),
        ),
    ]
