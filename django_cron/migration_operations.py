"""Migration operations of this app's own."""

from django.db import migrations


class CreateMissingTables(migrations.operations.base.Operation):
    """
    Create the tables of the named models that the database lacks, as the
    models stand at this point of the migrations; the state does not change.

    Tivix django-cron, which sites used under the same app label, recorded a
    migration named ``django_cron.0001_initial`` too. On a database it
    migrated, this app's 0001_initial counts as applied though its tables were
    never made, and the migrations after it make them. Tables a Tivix site
    already has (its run log and lock table) are adopted as they are.
    """

    reduces_to_sql = False
    reversible = True

    def __init__(self, *model_names):
        self.model_names = model_names

    def deconstruct(self):
        return self.__class__.__qualname__, list(self.model_names), {}

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        connection = schema_editor.connection
        existing = set(connection.introspection.table_names())
        for name in self.model_names:
            model = from_state.apps.get_model(app_label, name)
            if model._meta.db_table in existing:
                continue
            if self.allow_migrate_model(connection.alias, model):
                schema_editor.create_model(model)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        # The tables may be a Tivix site's own, with its history: they stay.
        pass

    def describe(self):
        return f"Create the tables of {', '.join(self.model_names)} where missing"
