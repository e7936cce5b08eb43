import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand

from payouts.dispatch import dispatch_forever


class Command(BaseCommand):
    help = "Run the dispatcher: hand `new` payouts to the workers until SIGTERM or SIGINT."

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        dispatch_forever(stop)
