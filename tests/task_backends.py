"""
Task backends that fail the way a broker's network does: one whose broker is
down (its enqueue() connects to a port where nothing listens), and one whose
reply is lost after the task got through and ran.
"""

import socket

from django.conf import settings

if settings.TASKS_MODULE == "django.tasks":
    from django.tasks.backends.base import BaseTaskBackend
else:
    from django_tasks.backends.base import BaseTaskBackend


class BrokerDownBackend(BaseTaskBackend):
    """Every enqueue() fails with the connection error of a broker that is down."""

    def enqueue(self, task, args, kwargs):
        # Port 1 on loopback: nothing listens there, so the connection is refused.
        socket.create_connection(("127.0.0.1", 1), timeout=2).close()
        raise AssertionError("something listens on port 1")


class ReplyLostBackend(BaseTaskBackend):
    """enqueue() delivers the task, which a worker runs at once, then fails on the way back."""

    def enqueue(self, task, args, kwargs):
        task.call(*args, **kwargs)
        raise ConnectionResetError("the connection was reset before the broker's reply")
