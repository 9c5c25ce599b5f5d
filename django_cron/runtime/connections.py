"""
Connection upkeep around a pass and between its jobs, as Django does around
each request.
"""

from django.db import connections


def tidy_connections() -> None:
    """
    Close connections that are broken or past CONN_MAX_AGE, as Django does
    around each request: at the start and the end of a pass. A connection
    inside a transaction is left alone: closing it would roll back the
    caller's work (a TestCase, say).
    """
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


def mend_connections() -> None:
    """
    Between two jobs of a pass, close only the connections a job left unusable
    (broken, or with autocommit turned off), so that the next job gets a sound
    one; with CONN_MAX_AGE = 0 the pass keeps one connection, not one per job.
    """
    for connection in connections.all(initialized_only=True):
        if connection.connection is None or connection.in_atomic_block:
            continue
        if connection.get_autocommit() != connection.settings_dict["AUTOCOMMIT"]:
            connection.close()
        elif connection.errors_occurred:
            if connection.is_usable():
                connection.errors_occurred = False
            else:
                connection.close()
