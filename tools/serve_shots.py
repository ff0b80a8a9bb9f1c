#!/usr/bin/env python3
"""The pictures of docs/SERVE.md and the README: every page of the
dashboard over `make demo`'s index, in headless Chromium.

usage: serve_shots.py DNNPROV CONFIG OUTDIR
  make demo && python3 tools/serve_shots.py build/dnnprov build/demo/digits.yaml docs/images

Each picture is as tall as its page (up to 2400 pixels), 1400 wide.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from serve_lib import Server, wait_for  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402

dnnprov, config, out = sys.argv[1:4]
WIDTH, TALLEST = 1400, 2400


def cli_json(*args):
    return json.loads(subprocess.run([dnnprov, *args, "-c", config, "--format", "json"], capture_output=True, text=True,
                                     check=True).stdout)


def frag(view, **params):
    return "#" + view + ("?" + urllib.parse.urlencode(params, doseq=True) if params else "")


best_first = [r["task"] for r in cli_json("compare", "--metric", "val_accuracy")["rows"]]
best = best_first[0]
adam_worst = [t for t in best_first if t.startswith("adam")][-1]
pages = [
    ("serve-runs", frag("runs")),
    ("serve-runs-grouped", frag("runs", by="OPTIMIZER_NAME")),
    ("serve-runs-error", frag("runs", where="lr < 0.1")),
    ("serve-run", frag("run", task=best)),
    ("serve-diff", frag("diff", a=adam_worst)),
    ("serve-compare", frag("compare", task=best_first[:3], metric="val_accuracy")),
    ("serve-hyperparameters", frag("hyper")),
    ("serve-adaptations", frag("adaptations")),
    ("serve-dataflows", frag("dataflows")),
    ("serve-query", None),  # the example, run
    ("serve-lineage", frag("lineage")),  # the best run's
    ("serve-export", frag("export", task=[best])),
]

opts = webdriver.ChromeOptions()
for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
          f"--window-size={WIDTH},1000", "--user-data-dir=" + tempfile.mkdtemp(prefix="dnnprov-shots-")]:
    opts.add_argument(a)
opts.binary_location = "/usr/bin/chromium"
with Server(dnnprov, "-c", config) as s:
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        for name, where in pages:
            d.set_window_size(WIDTH, 1000)
            if where is None:
                d.get(s.base + "/" + frag("query"))
                wait_for("the query view", lambda: d.execute_script("return !!document.querySelector('main[data-ready]')"), 20)
                where = frag("query", q=d.execute_script("return document.getElementById('query-text').value"))
            d.get("about:blank")
            d.get(s.base + "/" + where)
            wait_for(name, lambda: d.execute_script("return !!document.querySelector('main[data-ready]')"), 20)
            time.sleep(1.0)
            height = min(TALLEST, d.execute_script("return document.documentElement.scrollHeight"))
            d.set_window_size(WIDTH, height + 90)  # the window's frame
            time.sleep(1.0)  # charts redraw at the new size
            d.save_screenshot(os.path.join(out, name + ".png"))
            print(name, where[:80], height)
    finally:
        d.quit()
