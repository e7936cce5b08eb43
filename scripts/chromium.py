"""How this project starts a headless Chromium for Playwright: the browser tests and
`make screenshots` both launch it here.

Debian's Chromium at /usr/bin/chromium (Playwright's own browser download is not used);
CHROMIUM_PATH names another build of it (GitHub's runners have Google Chrome). The flags keep it
from reaching out to Google's services, which a closed network refuses.
"""

import os

from playwright.sync_api import Browser, Playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--disable-gpu",
]


def chromium_path() -> str:
    return os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def launch(playwright: Playwright) -> Browser:
    """A headless Chromium; close it when done."""
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
