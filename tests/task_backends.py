"""
A task backend whose broker is down: its enqueue() connects to a port where
nothing listens, as a backend does when its Redis or RabbitMQ is gone.
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
