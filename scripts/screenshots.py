"""Save screenshots of a running instance for the docs (`make screenshots`).

Starts nothing: point it at a server that is up (`make run`) and has a few payouts on the bank's
page. Uses Playwright with Debian's Chromium, headless (scripts/chromium.py).

    .venv/bin/python -m scripts.screenshots [--base-url http://127.0.0.1:8000] [--out docs/screenshots]

Writes bank-page.png (the simulator's page, /fake-bank/), swagger-ui.png (/api/docs/) and
ops-overview.png (the operators' overview, /ops/, signed in as `make seed`'s operator `ops` with
the password in var/ops-password).
"""

import argparse
import sys
from pathlib import Path

from playwright.sync_api import Error, Page, ViewportSize, sync_playwright

from scripts.chromium import launch

VIEWPORT: ViewportSize = {"width": 1440, "height": 1000}
TIMEOUT_MS = 20_000


def bank_page(page: Page, base_url: str, path: Path) -> None:
    page.goto(f"{base_url}/fake-bank/", wait_until="networkidle")
    page.locator("#refresh-toggle").wait_for(state="visible")  # the page's script is running
    # Full page: the controls, the payouts with their webhooks, the transfers.
    page.screenshot(path=path, full_page=True)


def swagger_ui(page: Page, base_url: str, path: Path) -> None:
    page.goto(f"{base_url}/api/docs/", wait_until="networkidle")
    page.locator(".swagger-ui .opblock").first.wait_for(state="visible")
    page.screenshot(path=path, full_page=False)


OPS_PASSWORD_FILE = Path("var/ops-password")


def ops_overview(page: Page, base_url: str, path: Path) -> None:
    page.goto(f"{base_url}/admin/login/?next=/ops/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", OPS_PASSWORD_FILE.read_text().strip())
    page.click("input[type=submit]")
    page.locator("#state").wait_for(state="visible")
    page.screenshot(path=path, full_page=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="where the service runs")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"), help="folder for the PNGs")
    args = parser.parse_args(argv)
    base_url = args.base_url.rstrip("/")
    args.out.mkdir(parents=True, exist_ok=True)
    shots = {"bank-page.png": bank_page, "swagger-ui.png": swagger_ui, "ops-overview.png": ops_overview}
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            for name, take in shots.items():
                try:
                    take(page, base_url, args.out / name)
                except Error as exc:
                    print(f"screenshots: {name} failed: {exc.message}", file=sys.stderr)  # noqa: T201
                    return 1
                print(f"wrote {args.out / name}")  # noqa: T201
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
