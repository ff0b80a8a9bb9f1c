"""The dashboard in a real browser (headless Chromium through Selenium),
over an index made by a real training, checked as a person would see it:
the runs table lists the runs, sorting and a --where filter change its
rows (a bad filter shows its caret), the compare view draws one curve per
selected run, the parallel-coordinates plot one line per run and brushing
an axis narrows the table under it, a new epoch shows without a reload
within 2 s, the lineage view draws the best run's picture from the raw data
to the evaluation and names the runs that share its data, and a run (or a
file it read) whose name is markup shows as text and runs nothing.
Every view is screenshot into SHOTS; no view may break the server's
Content-Security-Policy.

usage: serve_browser.py DNNPROV CONFIG SHOTS
Chromium that cannot start is a failure, never a skip.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse

from serve_lib import Checks, Server, wait_for

dnnprov, config, shots = sys.argv[1:4]
HOSTILE = "<img src=x onerror=window.__pwned=1>"
HOSTILE_FILE = "<svg onload=window.__pwned=3>.csv"  # the name of a file the hostile run read
check = Checks("serve_browser")


try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
except ImportError as e:
    print(f"chromium: python3-selenium is missing ({e}): `make check` installs it (apt-get install python3-selenium)")
    sys.exit(1)


def start_browser(profile):
    opts = webdriver.ChromeOptions()
    # No network here: nothing that phones home; a fresh profile.
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
              "--window-size=1400,1000", "--user-data-dir=" + profile]:
        opts.add_argument(a)
    opts.binary_location = "/usr/bin/chromium"
    try:
        return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    except Exception as e:  # noqa: BLE001 - any failure to start is the message
        print(f"chromium: cannot start headless Chromium (/usr/bin/chromium, /usr/bin/chromedriver): {e}".strip())
        print("chromium: install the Debian packages chromium and chromium-driver (`make check` does)")
        sys.exit(1)


def cli_json(*args):
    out = subprocess.run([dnnprov, *args, "-c", config, "--format", "json"], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


profile = tempfile.mkdtemp(prefix="dnnprov-chromium-")
follower = subprocess.Popen([dnnprov, "index", "-c", config, "--follow", "-q"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
d = None
try:
    with Server(dnnprov, "-c", config) as s:
        d = start_browser(profile)
        d.set_script_timeout(20)
        # Every CSP violation of every page load is recorded.
        d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": """
            window.__csp = [];
            document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
        """})

        def goto(view):
            d.get(s.base + "/#" + view)
            wait_for(f"the {view} view", lambda: d.execute_script(
                "const m = document.querySelector('main[data-ready]'); return m && m.dataset.view === arguments[0];", view), 20)
            time.sleep(0.3)  # charts settle

        def shot(name):
            d.save_screenshot(os.path.join(shots, name + ".png"))

        def table_tasks(sel="#runs-table"):
            return d.execute_script(
                "return [...document.querySelectorAll(arguments[0] + ' tbody tr')].map(r => r.dataset.task);", sel)

        def runs_view_ready():
            return d.execute_script("return document.querySelectorAll('#runs-table tbody tr').length > 0")

        # ---- runs: the table lists the runs ----------------------------------------------------
        goto("runs")
        wait_for("the runs table", runs_view_ready, 10)
        every = sorted(r["task"] for r in cli_json("runs")["rows"])
        check("the runs table lists every run", sorted(table_tasks()) == every, f"{table_tasks()} vs {every}")
        check("it says how many", d.find_element(By.ID, "runs-info").text.endswith(f"of {len(every)}"),
              d.find_element(By.ID, "runs-info").text)
        shot("runs")

        # ---- the hostile run shows as text and runs nothing -------------------------------------
        cells = d.execute_script("return [...document.querySelectorAll('#runs-table td')].map(td => td.textContent);")
        check("a task named as markup shows as its text", HOSTILE in cells, str(cells[:20]))
        check("and a hyperparameter value as its text", "</script><script>window.__pwned=2</script>" in cells)
        check("no element came from the logs", d.execute_script("return document.querySelectorAll('main img, main script').length") == 0)
        check("no script of the logs ran", d.execute_script("return window.__pwned === undefined"))

        # ---- sorting: a click on a header sorts by it, another reverses ---------------------------
        def sort_by(col):
            before = table_tasks()
            d.find_element(By.CSS_SELECTOR, f'#runs-table th[data-col="{col}"]').click()
            wait_for(f"sorted by {col}", lambda: table_tasks() != before or d.execute_script(
                "return document.querySelector(arguments[0]).getAttribute('aria-sort') !== null",
                f'#runs-table th[data-col="{col}"]'), 10)
            time.sleep(0.3)
        sort_by("LEARNING_RATE")
        want = [r["task"] for r in cli_json("runs", "--sort", "LEARNING_RATE")["rows"]]
        wait_for("the rows in LEARNING_RATE order", lambda: table_tasks() == want, 10)
        check("sorted ascending by LEARNING_RATE, as runs --sort", table_tasks() == want, f"{table_tasks()} vs {want}")
        sort_by("LEARNING_RATE")
        want_desc = [r["task"] for r in cli_json("runs", "--sort", "-LEARNING_RATE")["rows"]]
        wait_for("the rows in reverse", lambda: table_tasks() == want_desc, 10)
        check("a second click reverses", table_tasks() == want_desc, f"{table_tasks()} vs {want_desc}")

        # ---- --where: the rows it matches; an error with its caret ---------------------------------
        box = d.find_element(By.ID, "runs-where")
        box.clear()
        box.send_keys("OPTIMIZER_NAME = 'Adam'" + Keys.ENTER)
        adam = sorted(r["task"] for r in cli_json("runs", "--where", "OPTIMIZER_NAME = 'Adam'")["rows"])
        wait_for("the filtered rows", lambda: sorted(table_tasks()) == adam, 10)
        check("a --where filter keeps the runs it matches", sorted(table_tasks()) == adam, f"{table_tasks()} vs {adam}")
        shot("runs-filtered")
        box.clear()
        box.send_keys("lr < 0.1" + Keys.ENTER)
        err = wait_for("the error", lambda: d.execute_script(
            "const e = document.querySelector('#runs-error pre.error'); return e && e.textContent;"), 10)
        check("a bad filter shows the error with its caret", "unknown name 'lr'" in err and "\n  ^" in err, err)
        shot("runs-error")
        box.clear()
        box.send_keys(Keys.ENTER)
        wait_for("all rows again", lambda: sorted(table_tasks()) == every, 10)

        # ---- live: a new epoch shows without a reload, within 2 s ------------------------------------
        def epochs_of(task):
            return d.execute_script("""
                const rows = [...document.querySelectorAll('#runs-table tbody tr')].filter(r => r.dataset.task === arguments[0]);
                if (!rows.length) return null;
                const cols = [...document.querySelectorAll('#runs-table th')].map(th => th.dataset.col);
                return rows[0].children[cols.indexOf('epochs')].textContent;""", task)
        before = epochs_of(HOSTILE)
        subprocess.run([dnnprov, "log", "-c", config, "--task", HOSTILE, "epoch", "7", "loss=1.1", "val_loss=1.2"], check=True)
        t0 = time.monotonic()
        try:
            wait_for("the new epoch in the table", lambda: epochs_of(HOSTILE) not in (None, before), 2.0, 0.02)
            check("a new epoch shows within 2 s", True)
        except AssertionError as e:
            check("a new epoch shows within 2 s", False, f"{e}; epochs still {epochs_of(HOSTILE)}")
        print(f"live update: {time.monotonic() - t0:.2f} s from the append to the table")
        shot("runs-live")

        # ---- compare: one curve per selected run -------------------------------------------------------
        goto("runs")
        wait_for("the runs table", runs_view_ready, 10)
        labels = ["sgd-lr0.1", "adam-lr0.1", "adam-lr0.001"]  # ids are labelled: "sgd-lr0.1-2026..."
        picked = [next(t for t in every if t.startswith(lab + "-2")) for lab in labels]
        for t in picked:
            d.execute_script("""
                const r = [...document.querySelectorAll('#runs-table tbody tr')].find(r => r.dataset.task === arguments[0]);
                r.querySelector('input[type=checkbox]').click();""", t)
        d.find_element(By.ID, "compare-selected").click()
        wait_for("the compare view", lambda: d.execute_script(
            "const m = document.querySelector('main[data-ready]'); return m && m.dataset.view === 'compare';"), 10)
        time.sleep(0.5)
        series = d.execute_script("""
            const c = echarts.getInstanceByDom(document.getElementById('compare-chart'));
            return c.getOption().series.map(s => [s.name, s.data.length, (s.markPoint && s.markPoint.data || []).length]);""")
        check("one curve per selected run", sorted(x[0] for x in series) == sorted(picked), str(series))
        epochs = {r["task"]: r["epochs"] for r in cli_json("runs")["rows"]}
        check("each curve has a point per epoch", all(n == epochs[name] for name, n, _ in series), f"{series} {epochs}")
        adapts = {t: len(cli_json("adaptations", "--task", t)["rows"]) for t in picked}
        check("each curve marks its adaptations", all(m == adapts[name] for name, _, m in series), f"{series} {adapts}")
        paths = d.execute_script("return document.querySelectorAll('#compare-chart svg path[fill=none]').length")
        check("the curves are drawn", paths >= len(picked), str(paths))
        aria = d.execute_script("return document.getElementById('compare-chart').getAttribute('aria-label') || ''")
        check("the chart describes its curves", all(t in aria for t in picked), aria)
        hyp_rows = d.execute_script("return document.querySelectorAll('#hyp-table tbody tr').length")
        d.find_element(By.ID, "diff-only").click()
        time.sleep(0.5)
        diff_rows = d.execute_script("return [...document.querySelectorAll('#hyp-table tbody tr td:first-child')].map(td => td.textContent)")
        check("differences only: fewer rows, the learning rate among them", len(diff_rows) < hyp_rows and "LEARNING_RATE" in diff_rows,
              f"{hyp_rows} {diff_rows}")
        d.find_element(By.ID, "log-scale").click()
        time.sleep(0.5)
        check("log scale", d.execute_script(
            "return echarts.getInstanceByDom(document.getElementById('compare-chart')).getOption().yAxis[0].type") == "log")
        shot("compare")

        # ---- hyperparameters: one line per run; brushing narrows the table --------------------------------
        goto("hyper")
        ncmp = len(cli_json("compare")["rows"])
        lines = d.execute_script("return echarts.getInstanceByDom(document.getElementById('parallel')).getOption().series[0].data.length")
        check("one line per run in the parallel coordinates", lines == ncmp, f"{lines} vs {ncmp}")
        wait_for("the runs under the plot", lambda: d.execute_script("return document.querySelectorAll('#brushed tbody tr').length") == ncmp, 10)
        axis = d.execute_script("""
            const c = echarts.getInstanceByDom(document.getElementById('parallel'));
            return c.getOption().parallelAxis.findIndex(a => a.name === 'LEARNING_RATE');""")
        d.execute_script("""
            const c = echarts.getInstanceByDom(document.getElementById('parallel'));
            c.dispatchAction({type: 'axisAreaSelect', parallelAxisId: c.getModel().getComponent('parallelAxis', arguments[0]).id, intervals: [[0.05, 0.2]]});""", axis)
        fast = sorted(r["task"] for r in cli_json("runs", "--where", "LEARNING_RATE >= 0.05 and LEARNING_RATE <= 0.2")["rows"])
        wait_for("the brushed rows", lambda: sorted(table_tasks("#brushed")) == fast, 10)
        check("brushing the LEARNING_RATE axis narrows the table to its runs", sorted(table_tasks("#brushed")) == fast,
              f"{table_tasks('#brushed')} vs {fast}")
        check("and says the filter", "LEARNING_RATE >= 0.05" in d.find_element(By.ID, "brush-where").text)
        rho = d.find_element(By.ID, "rho").text
        check("the scatter gives Spearman's rho", "Spearman" in rho, rho)
        ranked = d.execute_script("return echarts.getInstanceByDom(document.getElementById('ranking')).getOption().yAxis[0].data")
        check("the ranking lists the numeric hyperparameters that vary", "LEARNING_RATE" in ranked, str(ranked))
        check("the effect table", d.execute_script("return document.querySelectorAll('#effect tbody tr').length") > 0)
        shot("hyperparameters")

        # ---- the other views ------------------------------------------------------------------------------
        goto("dataflows")
        counts = d.execute_script("return [...document.querySelectorAll('#status-counts .badge')].map(b => b.textContent)")
        finished = sum(r["status"] == "FINISHED" for r in cli_json("runs")["rows"])
        check("the dataflow's tasks by status: the pipeline's steps and trainings, the hostile run",
              f"FINISHED {finished}" in counts and finished > 6 and "RUNNING 1" in counts, str(counts))
        nodes = d.execute_script("return echarts.getInstanceByDom(document.getElementById('spec-graph')).getOption().series[0].data.map(n => n.name)")
        check("the specification graph: its transformations", all(t in nodes for t in ["TrainingModel", "Adaptation", "TestingModel"]), str(nodes))
        shot("dataflows")
        goto("adaptations")
        nad = len(cli_json("adaptations")["rows"])
        check("the adaptations table", d.execute_script("return document.querySelectorAll('#adapt-table tbody tr').length") == nad)
        shot("adaptations")
        goto("query")
        example = d.find_element(By.ID, "query-text").get_attribute("value")
        d.find_element(By.ID, "query-run").click()  # the example: the best loss of each run, in SQL
        want = [r["task"] for r in json.loads(subprocess.run([dnnprov, "sql", "-c", config, "--format", "json", example],
                                                             capture_output=True, text=True, check=True).stdout)["rows"]]
        wait_for("the SQL answer", lambda: len(table_tasks("#query-result")) > 0, 10)
        check("the query view answers its SQL example as dnnprov sql", table_tasks("#query-result") == want and len(want) > 1,
              f"{table_tasks('#query-result')} vs {want}")
        shot("query")
        box = d.find_element(By.ID, "query-text")
        box.clear()
        box.send_keys("select task from tasks where status = 'RUNNING'")
        d.find_element(By.ID, "query-run").click()
        wait_for("the running task", lambda: table_tasks("#query-result") == [HOSTILE], 10)
        check("SQL: the hostile id is text there too", d.execute_script("return window.__pwned === undefined"))
        box.clear()
        box.send_keys("delete from tasks")
        d.find_element(By.ID, "query-run").click()
        err = wait_for("the refusal", lambda: d.execute_script(
            "const e = document.querySelector('#query-result pre.error'); return e && e.textContent;"), 10)
        check("SQL that writes is refused", "may not be modified" in err, err)
        d.find_element(By.CSS_SELECTOR, "#query-mode option[value=where]").click()
        wait_for("the --where mode", lambda: d.execute_script("return document.querySelector('#query-mode').value === 'where' && !!document.querySelector('#query-text')"), 10)
        d.find_element(By.ID, "query-text").send_keys("max(val_accuracy) > 0.5 and OPTIMIZER_NAME = 'SGD'")
        d.find_element(By.ID, "query-run").click()
        want = sorted(r["task"] for r in cli_json("runs", "--where", "max(val_accuracy) > 0.5 and OPTIMIZER_NAME = 'SGD'")["rows"])
        wait_for("the query's rows", lambda: sorted(table_tasks("#query-result")) == want, 10)
        check("the --where mode answers as runs --where", sorted(table_tasks("#query-result")) == want)
        goto("export")
        href = d.find_element(By.ID, "export-provn").get_attribute("href")
        check("the export links to the API", "/api/export?" in href and "format=prov-n" in href, href)
        shot("export")

        # ---- lineage: the best run's picture, from the raw data to the evaluation ------------------------
        d.set_window_size(1920, 1080)  # one common screen
        goto("lineage")
        def picture_ids():
            return d.execute_script("return [...document.querySelectorAll('#lineage-picture svg.lineage g.node')].map(g => g.dataset.id)")
        wait_for("the lineage picture", lambda: len(picture_ids()) > 0, 20)
        run = d.find_element(By.ID, "lineage-task").get_attribute("value")
        best = cli_json("runs", "--sort", "best(val_loss)", "--where", "epochs > 0")["rows"][0]["task"]
        check("the view opens on the best run by the main metric", run == best, f"{run} vs {best}")
        up, down = cli_json("lineage", run)["rows"], cli_json("lineage", run, "--down")["rows"]
        key = lambda r: "t:" + r["dataflow"] + "/" + r["task"] if r["kind"] == "task" else "e:" + r["fingerprint"]
        ids = picture_ids()
        check("every node of lineage --up and --down is drawn once", sorted(set(map(key, up + down))) == sorted(i for i in ids if i[:2] in ("t:", "e:"))
              and len(ids) == len(set(ids)), f"{ids}")
        tfs = {r["transformation"] for r in up + down if r["kind"] == "task"}
        check("from the raw data through load, split and scale to the evaluation", {"Load", "Split", "Scale", "Evaluate"} <= tfs, str(tfs))
        check("the run's epochs, its test and its agents beside it",
              {"epochs", "testing", "result", "agent-person", "agent-machine", "agent-software"} <= set(ids), str(ids))
        tested = cli_json("test", "--where", f"task = '{run}'")["rows"][-1]
        result = d.execute_script("return [...document.querySelectorAll('#lineage-picture g.node')].find(g => g.dataset.id === 'result')"
                                  ".querySelectorAll('text').length")
        check("the test result holds its metrics, not the hyperparameters", result == 1 + sum(
            isinstance(tested.get(m), (int, float)) for m in ("loss", "accuracy")) and result > 1, str(result))
        raw = next(key(r) for r in up if r["role"] == "raw_data")
        model = next(key(r) for r in down if r["role"] == "model")
        def x_of(i):
            return d.execute_script("const g = [...document.querySelectorAll('#lineage-picture g.node')].find(g => g.dataset.id === arguments[0]);"
                                    " return g.getBoundingClientRect().left;", i)
        check("left to right: the raw data, the run, the model", x_of(raw) < x_of("t:" + up[0]["dataflow"] + "/" + run) < x_of(model))
        fits = d.execute_script("const b = document.getElementById('lineage-picture'); return [b.scrollWidth, b.clientWidth];")
        check("on one screen: the picture fits a 1920-pixel window, no scrolling", fits[0] <= fits[1], str(fits))
        font = d.execute_script("return parseFloat(getComputedStyle(document.querySelector('#lineage-picture svg.lineage text')).fontSize)")
        check("labels of at least 9 pt (12 px)", font >= 12, str(font))
        def epoch_lines():
            return d.execute_script("return [...document.querySelectorAll('#lineage-picture g.node')].find(g => g.dataset.id === 'epochs').querySelectorAll('text').length")
        collapsed = epoch_lines()
        shot("lineage")
        d.execute_script("[...document.querySelectorAll('#lineage-picture g.node')].find(g => g.dataset.id === 'epochs')"
                         ".dispatchEvent(new MouseEvent('click', {bubbles: true}))")
        epochs_run = next(r["epochs"] for r in cli_json("runs")["rows"] if r["task"] == run)
        wait_for("the epochs expanded", lambda: epoch_lines() == epochs_run, 10)
        check("a click expands the epochs node: a line per epoch", epoch_lines() == epochs_run and collapsed == 2, f"{collapsed} {epoch_lines()}")
        shot("lineage-expanded")
        train = next(r for r in up if r["depth"] == 1 and r["role"] == "train_data")
        sharing = sorted(r["task"] for r in cli_json("lineage", train["fingerprint"], "--down", "--depth", "1")["rows"] if r["kind"] == "task")
        shown = sorted({r for r in d.execute_script("return [...document.querySelectorAll('#lineage-shared tbody tr')]"
                                                  ".filter(r => r.children[2].textContent === arguments[0]).map(r => r.dataset.task)", train["fingerprint"])})
        check("the runs that used the same training data, as lineage --down", shown == sharing and len(sharing) > 1, f"{shown} vs {sharing}")
        # A pipeline's step: no epochs, no test; its picture all the same.
        split = next(r for r in up if r.get("transformation") == "Split")["task"]
        d.get(s.base + "/#lineage?task=" + urllib.parse.quote(split))
        def centre():
            return d.execute_script("const g = document.querySelector('#lineage-picture g.node.run'); return g && g.dataset.id;")
        wait_for("the split's picture", lambda: centre() == "t:" + up[0]["dataflow"] + "/" + split, 20)
        check("a step's picture: no epochs, no error", "epochs" not in picture_ids() and not d.find_elements(By.CSS_SELECTOR, "main pre.error"))
        # The hostile run read a file whose name is markup: text in the picture and the tables.
        d.get(s.base + "/#lineage?task=" + urllib.parse.quote(HOSTILE))
        wait_for("the hostile run's picture", lambda: centre() == "t:" + up[0]["dataflow"] + "/" + HOSTILE, 20)
        texts = d.execute_script("return [...document.querySelectorAll('#lineage-picture text, #lineage-up td')].map(t => t.textContent)")
        check("an entity named as markup shows as its text", any(HOSTILE_FILE in t for t in texts), str(texts))
        check("no element came from the entity", d.execute_script("return document.querySelectorAll('main img, main script, main svg svg').length") == 0)
        check("no script of the entity ran", d.execute_script("return window.__pwned === undefined"))
        d.set_window_size(1400, 1000)

        csp = d.execute_script("return window.__csp")
        check("no view broke the Content-Security-Policy", csp == [], str(csp))
        check("still no script of the logs ran", d.execute_script("return window.__pwned === undefined"))
finally:
    if d:
        d.quit()
    follower.terminate()
    follower.wait()

sys.exit(check.finish())
