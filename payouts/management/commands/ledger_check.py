from typing import Any

from django.core.management.base import BaseCommand, CommandError

from payouts.ledger.check import ledger_check


class Command(BaseCommand):
    help = "Verify the ledger's invariants; exits non-zero on any violation."

    def handle(self, *args: Any, **options: Any) -> None:
        report = ledger_check()
        for line in report.checked:
            self.stdout.write(f"checked: {line}")
        for line in report.violations:
            self.stderr.write(f"VIOLATION: {line}")
        if report.violations:
            raise CommandError(f"{len(report.violations)} ledger violation(s)")
        self.stdout.write("ledger OK")
