"""Screenshots of the open widget for the README: `linguadesk serve --site examples/demo-shop`
must be running (e.g. `make demo`), Debian's chromium installed, playwright in the venv.

    .venv/bin/python docs/screenshots.py [--url http://127.0.0.1:8000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

QUESTIONS = {
    "en": "How much does shipping cost?",
    "ja": "海外への配送にはどのくらいかかりますか？",
    "ar": "كم تستغرق مدة الشحن الدولي؟",
}
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=ARGS)
        for lang, question in QUESTIONS.items():
            context = browser.new_context(locale=lang, viewport={"width": 1100, "height": 760})
            page = context.new_page()
            page.goto(f"{args.url}/?lang={lang}")
            page.locator("#linguadesk-widget .launcher").click()
            page.locator("#linguadesk-widget .msg.bot").first.wait_for()
            page.locator("#linguadesk-widget textarea").fill(question)
            page.keyboard.press("Enter")
            page.locator("#linguadesk-widget .msg.bot .tools").first.wait_for(timeout=180_000)
            page.locator("#linguadesk-widget textarea").blur()
            path = args.out / f"widget-{lang}.png"
            page.screenshot(path=path)
            print(
                f"{path}: {page.locator('#linguadesk-widget .msg.bot .body').last.inner_text()!r}"
            )
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
