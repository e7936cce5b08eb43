"""Write the simulator's development webhook key pair to DEV_WEBHOOK_KEYS_FILE, once."""

import json
import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from fake_bank.signing import keypair_generate


class Command(BaseCommand):
    help = (
        "Generate an Ed25519 webhook key pair into DEV_WEBHOOK_KEYS_FILE "
        '({"private": ["whsk_..."], "public": ["whpk_..."]}) unless the file exists.'
    )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(settings.DEV_WEBHOOK_KEYS_FILE)
        if path.exists():
            self.stdout.write(f"{path} exists; keys left unchanged.")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        secret, public = keypair_generate()
        content = json.dumps({"private": [secret], "public": [public]}, indent=2) + "\n"
        # O_EXCL: two runs at once cannot both write; the file is private from its first byte.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            self.stdout.write(f"{path} exists; keys left unchanged.")
            return
        with os.fdopen(fd, "w") as file:
            file.write(content)
        self.stdout.write(
            self.style.SUCCESS(f"Wrote a new webhook key pair to {path} (public key {public}).")
        )
