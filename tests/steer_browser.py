"""Health events in the dashboard (headless Chromium), over an index that
holds a NaN run, a diverging run and a plateau run: each run's health as
a badge in the runs table, as `runs` gives it; the list of events, as
`events` gives it; a click on an event away, the run's curve marked at
the event's epoch; and the run's own page, its health beside its status
and its curves marked too.  Screenshots go to SHOTS.

usage: steer_browser.py DNNPROV CONFIG SHOTS
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

from serve_lib import Checks, Server, start_browser, wait_for

dnnprov, config, shots = sys.argv[1:4]
check = Checks("steer_browser")


def cli_json(*args):
    out = subprocess.run([dnnprov, *args, "-c", config, "--format", "json"], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


profile = tempfile.mkdtemp(prefix="dnnprov-chromium-")
d = None
try:
    with Server(dnnprov, "-c", config) as s:
        d = start_browser(profile)
        d.get(s.base + "/#runs")
        wait_for("the runs table", lambda: d.execute_script(
            "return document.querySelectorAll('#runs-table tbody tr').length > 0"), 20)
        wait_for("the events list", lambda: d.execute_script(
            "return document.querySelectorAll('#runs-events tbody tr').length > 0"), 20)
        time.sleep(0.3)
        d.save_screenshot(os.path.join(shots, "steer-runs.png"))

        want = sorted((r["task"], r["health"]) for r in cli_json("runs")["rows"] if r["health"] != "ok")
        got = sorted(tuple(x) for x in d.execute_script("""
            return [...document.querySelectorAll('#runs-table tbody tr')].flatMap(tr =>
              [...tr.querySelectorAll('.badge.health')].map(b => [tr.dataset.task, b.textContent]));"""))
        check("a badge on each run that went wrong, its health as runs says", got == want and len(want) == 3,
              f"{got} vs {want}")
        check("and none on a healthy run", d.execute_script(
            "return document.querySelectorAll('#runs-table .badge.health.ok').length") == 0)

        events = cli_json("events")["rows"]
        want = sorted((e["task"], e["rule"], str(e["epoch"])) for e in events)
        got = sorted(tuple(x) for x in d.execute_script("""
            const cols = [...document.querySelectorAll('#runs-events th')].map(th => th.dataset.col);
            return [...document.querySelectorAll('#runs-events tbody tr')].map(tr => {
              const td = [...tr.children];
              return ['task', 'rule', 'epoch'].map(c => td[cols.indexOf(c)].textContent); });"""))
        check("the list of events, as events gives it", got == want, f"{got} vs {want}")

        diverged = next(e for e in events if e["rule"] == "divergence")
        d.execute_script("""
            [...document.querySelectorAll('#runs-events tbody tr')].find(tr => tr.dataset.task === arguments[0]).click();""",
                         diverged["task"])
        marked = wait_for("the compare view with the run's curve", lambda: d.execute_script("""
            const m = document.querySelector('main[data-ready]');
            const svg = document.querySelector('#compare-chart svg');
            return m && m.dataset.view === 'compare' && svg &&
              [...svg.querySelectorAll('text')].some(t => t.textContent === 'divergence');"""), 20)
        time.sleep(0.3)
        d.save_screenshot(os.path.join(shots, "steer-compare.png"))
        check("a click on the event shows the run's curve, marked 'divergence'", bool(marked))

        d.get(s.base + "/#run?" + urllib.parse.urlencode({"task": diverged["task"]}))
        page = wait_for("the run's page with its curves", lambda: d.execute_script("""
            const m = document.querySelector('main[data-ready]');
            const svg = document.querySelector('#run-metrics svg');
            const badge = document.querySelector('#run-health');
            return m && m.dataset.view === 'run' && svg && badge &&
              [[...svg.querySelectorAll('text')].some(t => t.textContent === 'divergence'), badge.textContent];"""), 20)
        time.sleep(0.3)
        d.save_screenshot(os.path.join(shots, "steer-run.png"))
        check("the run's page: its health beside its status, its curve marked 'divergence'",
              page == [True, "diverged"], f"{page}")
finally:
    if d is not None:
        d.quit()
    shutil.rmtree(profile, ignore_errors=True)
sys.exit(check.finish())
