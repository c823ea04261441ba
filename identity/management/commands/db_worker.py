"""django-tasks-db's worker, plus the outbox's sweep in a thread beside it.

django-tasks-db never runs again a task left RUNNING by a worker that died (``kill -9``, a
lost host): its row stays RUNNING. A delivery whose try was lost that way keeps its lease
(``Delivery.next_attempt_at``); every OUTBOX_SWEEP_SECONDS, and once at start, this worker
queues such deliveries again (``identity.events.deliveries_resume``). The command keeps the
library's name and options (identity comes before django_tasks_db in INSTALLED_APPS), so
``manage.py db_worker`` stays the one worker command.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django_tasks_db.management.commands import db_worker

from identity.events import deliveries_resume

logger = logging.getLogger(__name__)


class Command(db_worker.Command):
    help = "Run the task worker (deliveries of the outbox), sweeping lost tries back in."

    def handle(self, *args: Any, **options: Any) -> None:
        threading.Thread(target=_sweep_forever, name="outbox-sweep", daemon=True).start()
        super().handle(*args, **options)


def _sweep_forever() -> None:
    while True:  # a daemon thread: it ends with the worker
        close_old_connections()
        try:
            count = deliveries_resume()
        except Exception:  # the database is away: try again at the next round
            logger.exception("outbox sweep failed")
        else:
            if count:
                logger.warning("outbox sweep: %s lost deliveries queued again", count)
        finally:
            connection.close()
        time.sleep(settings.OUTBOX_SWEEP_SECONDS)
