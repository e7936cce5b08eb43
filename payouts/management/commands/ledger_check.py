from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from payouts.ledger.check import ledger_check
from payouts.observability.ledger import ledger_check_record


class Command(BaseCommand):
    help = (
        "Verify the ledger's invariants; exits non-zero on any violation. With --record, the run is "
        "recorded as the periodic check's are (/metrics, /ops/)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--record", action="store_true", help="record the result as beat's check does")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["record"]:
            run = ledger_check_record()
            violations, count = run.violations, run.violation_count
        else:
            report = ledger_check()
            for line in report.checked:
                self.stdout.write(f"checked: {line}")
            violations, count = report.violations, len(report.violations)
        for line in violations:
            self.stderr.write(f"VIOLATION: {line}")
        if count:
            raise CommandError(f"{count} ledger violation(s)")
        self.stdout.write("ledger OK")
