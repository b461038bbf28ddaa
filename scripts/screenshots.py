#!/usr/bin/env python3
"""`make screenshots`: a PNG of every page each demo role reaches, in the light and dark
themes, at desktop (1440x900) and phone (390x844) size, into screenshots/ (not committed).

Starts the demo (scripts/demo.py: embedded Postgres and Redis under var/demo/ unless
DATABASE_URL / ASYNQ_REDIS_URL are set) on PORT (default 8000), signs in as each demo
user with the passwords it keeps, walks the pages and stops the demo again. Needs
Chromium (set DLQADMIN_CHROMIUM when it is not on PATH as chromium)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from demo import wait_for  # scripts/demo.py, next to this file
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(os.environ.get("SCREENSHOTS_DIR", ROOT / "screenshots"))
SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
THEMES = ("light", "dark")
# Pages reached from links rather than the navigation (a queue, a dead task, a search, a
# scheduler entry, the queue's chart and vault are found on the way), each with the
# navigation entry that leads to it.
EXTRA = [("/", "/account/"), ("/", "/account/mfa/setup/"), ("/alerts/", "/alerts/history/"),
         ("/policies/", "/policies/channels/"), ("/policies/", "/policies/masking/"), ("/policies/", "/policies/new/"),
         ("/audit/", "/audit/?action=task.retry")]


def say(text):
    print(f"[screenshots] {text}", flush=True)


def chromium():
    for candidate in (os.environ.get("DLQADMIN_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    sys.exit("Chromium not found: install the 'chromium' package or set DLQADMIN_CHROMIUM")


def slug(path):
    return re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_") or "overview"


def pages_of(page, base):
    """The role's navigation, plus one page of each kind reached by a link."""
    paths = ["/", *(a.get_attribute("href") for a in page.locator("nav[aria-label=Main] a").all())]
    queue = page.locator("#queues tbody tr:not([data-damaged]) td a").first
    if queue.count():
        qpath = queue.get_attribute("href")
        paths += [qpath, qpath + "?state=archived"]
        page.goto(base + qpath + "?state=archived")
        task = page.locator("#tasks a[href*='/tasks/']").first
        if task.count():
            paths.append(task.get_attribute("href"))
        paths += [qpath + "search?q=timeout", qpath.replace("/queues/", "/alerts/queues/", 1) + "chart/"]
        vault = page.locator("#vault-tab")
        if vault.count():
            paths.append(vault.get_attribute("href"))
    page.goto(base + "/scheduler/")
    entry = page.locator("a[href^='/scheduler/']").first
    if entry.count():
        paths.append(entry.get_attribute("href"))
    paths += [p for via, p in EXTRA if via in paths]
    seen = []
    for p in paths:
        if p and p not in seen:
            seen.append(p)
    return seen


def shoot(base, passwords):
    written = 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=["--no-sandbox", "--disable-gpu"])
        for user, password in passwords.items():
            context = browser.new_context(viewport=SIZES["desktop"])
            page = context.new_page()
            page.goto(base + "/login/")
            page.fill("#id_username", user)
            page.fill("#id_password", password)
            page.click("button[type=submit]")
            page.wait_for_url(base + "/")
            paths = pages_of(page, base)
            for size, viewport in SIZES.items():
                page.set_viewport_size(viewport)
                for theme in THEMES:
                    page.emulate_media(color_scheme=theme)
                    folder = OUT / user / f"{theme}-{size}"
                    folder.mkdir(parents=True, exist_ok=True)
                    for path in paths:
                        page.goto(base + path)
                        page.wait_for_load_state("networkidle")
                        page.screenshot(path=str(folder / f"{slug(path)}.png"), full_page=True)
                        written += 1
            say(f"{user}: {len(paths)} pages")
            context.close()
        browser.close()
    return written


def main():
    port = os.environ.get("PORT", "8000")
    base = f"http://127.0.0.1:{port}"
    demo = subprocess.Popen([sys.executable, "scripts/demo.py"], cwd=ROOT, env={**os.environ, "PORT": port},
                            stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        if not wait_for(base + "/healthz", seconds=240):  # migrations and seeding come first
            say("the demo did not come up (try `make demo` to see why)")
            return 1
        passwords = json.loads((ROOT / "var" / "demo" / "credentials.json").read_text())
        if OUT.exists():
            shutil.rmtree(OUT)
        written = shoot(base, passwords)
        say(f"{written} PNGs in {OUT}")
        return 0
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
