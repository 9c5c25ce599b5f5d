# What a pause, an overlap, a blackout window, a backfill and a limit on runs
# mean: the slots skipped, counted; the windows; the backfills and their runs;
# when the job last started and ended a run, whichever schedule it ran for; and
# its successful runs, for times=N.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('django_cron', '0008_operator_keys_and_audit'),
    ]

    operations = [
        migrations.CreateModel(
            name='Backfill',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('job', models.CharField(max_length=200, verbose_name='job')),
                ('start', models.DateTimeField(verbose_name='from')),
                ('end', models.DateTimeField(help_text='Not included.', verbose_name='to')),
                ('overlap', models.CharField(choices=[('buffer_all', 'each slot waits for the run in flight'), ('skip', 'a slot whose turn comes while a run is in flight is skipped')], default='buffer_all', max_length=16, verbose_name='overlap')),
                ('again', models.BooleanField(default=False, help_text='Run the slots that had a successful run too.', verbose_name='run again')),
                ('requested_by', models.CharField(blank=True, max_length=200, verbose_name='asked for by')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='asked for')),
                ('total', models.PositiveIntegerField(default=0, verbose_name='slots')),
                ('passed', models.PositiveIntegerField(default=0, verbose_name='slots not run')),
                ('finished_at', models.DateTimeField(blank=True, null=True, verbose_name='finished')),
            ],
            options={
                'verbose_name': 'backfill',
                'verbose_name_plural': 'backfills',
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='Blackout',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('start', models.DateTimeField(verbose_name='start')),
                ('end', models.DateTimeField(db_index=True, verbose_name='end')),
                ('jobs', models.CharField(blank=True, help_text='A pattern of job names, such as reports.* (* and ?); blank for every job.', max_length=200, verbose_name='jobs')),
                ('reason', models.TextField(blank=True, verbose_name='reason')),
                ('created_by', models.CharField(blank=True, editable=False, max_length=200, verbose_name='made by')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='made')),
            ],
            options={
                'verbose_name': 'blackout window',
                'verbose_name_plural': 'blackout windows',
                'ordering': ['-start', '-id'],
            },
        ),
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
            name='skipped_blackout',
            field=models.PositiveIntegerField(default=0, verbose_name='slots skipped in blackouts'),
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
        migrations.AddField(
            model_name='jobrun',
            name='backfill',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='runs', to='django_cron.backfill'),
        ),
    ]
