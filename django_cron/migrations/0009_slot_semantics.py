# What a pause, an overlap, a blackout window and a limit on runs mean: the
# slots skipped, counted; the windows; when the job last started and ended a
# run, whichever schedule it ran for; and its successful runs, for times=N.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('django_cron', '0008_operator_keys_and_audit'),
    ]

    operations = [
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
    ]
