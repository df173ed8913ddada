"""The web console in a real browser: Debian's headless Chromium, driven by selenium.

Against a real 3-broker `pybroker cluster up`: the page served by one broker lists the
three brokers; SIGKILL another broker that leads a partition, and without reloading the
page that broker disappears and the partition's new leader appears within a few seconds
(the coord session timeout, 3 s here, plus the controller's election). A screenshot is
kept in the test's tmp directory. Skipped only where Chromium or its driver is missing."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.console.cluster import cli, cluster_json, local_cluster
from tests.support.waiting import wait_until

pytestmark = pytest.mark.cluster

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extras")
if CHROMIUM is None or DRIVER is None:
    pytest.skip(
        "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )

from selenium.webdriver.chrome.service import Service  # noqa: E402

TOPIC = "watched"


def _browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(DRIVER), options=options)


def _page(driver) -> tuple[list[str], dict[int, str]]:
    """The broker ids listed, and each partition's leader cell, as the page shows them now
    (read in one script, as the page redraws its rows every second)."""
    brokers, leaders = driver.execute_script(f"""
        const brokers = [...document.querySelectorAll('#brokers li')].map(li => li.dataset.broker);
        const leaders = [...document.querySelectorAll("#partitions-body tr[data-topic='{TOPIC}']")]
          .map(tr => [tr.dataset.partition, tr.querySelector('td.leader').textContent]);
        return [brokers, leaders];""")
    return brokers, {int(p): text for p, text in leaders}


def test_page_follows_a_killed_broker_without_reload(tmp_path: Path):
    with local_cluster(tmp_path / "cluster") as state:
        created = cli(
            "topics", "create", TOPIC, "--partitions", "3", "--replication-factor", "3", "--bootstrap", state.bootstrap
        )
        assert created.returncode == 0, created.stderr
        watcher = state.brokers[0]
        driver = _browser()
        try:
            driver.get(watcher.console_url)
            wait_until(
                "three brokers and three partitions on the page",
                lambda: _page(driver)[0] == ["1", "2", "3"] and len(_page(driver)[1]) == 3,
                20,
            )
            marker = driver.execute_script("window.notReloaded = 'still here'; return window.notReloaded;")
            # A broker other than the one serving the page, leading at least one partition.
            leaders = {
                p["partition"]: p["leader"]
                for t in cluster_json(watcher.console_url)["topics"]
                if t["name"] == TOPIC
                for p in t["partitions"]
            }
            victim = next(b for b in state.brokers if b.id != watcher.id and b.id in leaders.values())
            led = [p for p, leader in leaders.items() if leader == victim.id]
            killed_at = time.monotonic()
            assert cli("cluster", "kill", str(victim.id), "--data-dir", str(state.data_dir)).returncode == 0

            def moved() -> bool:
                brokers, shown = _page(driver)
                return (
                    str(victim.id) not in brokers
                    and len(brokers) == 2
                    and all(shown.get(p) not in (str(victim.id), "offline", None) for p in led)
                )

            wait_until("the killed broker gone and new leaders shown", moved, 15)
            took = time.monotonic() - killed_at
            assert driver.execute_script("return window.notReloaded;") == marker  # the same page, live
            driver.save_screenshot(str(tmp_path / "console-after-failover.png"))
            print(f"page showed the new leaders {took:.1f} s after SIGKILL; screenshot in {tmp_path}")
            assert took < 12
        finally:
            driver.quit()
