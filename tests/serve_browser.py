"""The dashboard in a real browser (headless Chromium through Selenium),
over an index made by a real training (the digits grid, a FAILED run, a
one-epoch smoke run, a run with every part a run page shows), checked as
a person would see it, each against what the command line answers:

- runs: every run, best first with the task and the metric pinned and the
  sort in the header; sorting, --where (an error with its caret), a
  status filter whose statuses come from the data; a readable placeholder
  (LEARNING_RATE keeps its underscore); grouping by OPTIMIZER_NAME (the
  groups' counts and means, a band per group); a new epoch shows within
  2 s; a run named as markup shows as text and runs nothing;
- a copied URL reopens the same view, and the back button steps back;
- a run's page shows every section for a run that has all of them;
- a diff of two runs names the hyperparameters that differ and the epoch
  where their curves part, as `dnnprov diff` does;
- compare: a curve per run, their adaptations marked without overlap, a
  val_accuracy axis that ends at 1, a legend that hides a run, task ids
  completed as typed and "did you mean" for an unknown one;
- hyperparameters: the best run's line drawn last, in the scale's top
  colour and highlighted; no axis for a constant hyperparameter; the
  FAILED run left out until asked for, then drawn apart; the short run
  marked; the ranking says its n and what it leaves out; Spearman once;
  the box plot's groups are the effect table's;
- lineage: the best run's picture from the raw data to the evaluation, on
  one screen, its epochs expanding on a click, the runs that share its
  data; a file whose name is markup shows as text;
- the other views, and no view breaks the Content-Security-Policy.
Every view is screenshot into SHOTS.

usage: serve_browser.py DNNPROV CONFIG SHOTS FULL_TASK
Chromium that cannot start is a failure, never a skip.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

from serve_lib import Checks, Server, start_browser, wait_for

dnnprov, config, shots, full = sys.argv[1:5]
HOSTILE = "<img src=x onerror=window.__pwned=1>"
HOSTILE_FILE = "<svg onload=window.__pwned=3>.csv"  # the name of a file the hostile run read
TOP_COLOUR = "#1a9850"  # serve/web/js/charts.mjs SCALE's last: the best run's
check = Checks("serve_browser")


try:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
except ImportError as e:
    print(f"chromium: python3-selenium is missing ({e}): `make check` installs it (apt-get install python3-selenium)")
    sys.exit(1)


def cli_json(*args):
    out = subprocess.run([dnnprov, *args, "-c", config, "--format", "json"], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def frag(view, **params):
    """A view's fragment as the page writes it (repeated names for lists)."""
    return "#" + view + ("?" + urllib.parse.urlencode(params, doseq=True) if params else "")


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
        csp_seen = []

        def ready(view):
            """Waits for the view drawn after the last mark() (or load)."""
            wait_for(f"the {view} view", lambda: d.execute_script(
                "const m = document.querySelector('main[data-ready]'); return m && !m.__seen && m.dataset.view === arguments[0];", view), 20)
            time.sleep(0.4)  # charts settle

        def mark():
            """Marks the view shown, so that ready() waits for the next one."""
            d.execute_script("document.querySelector('main').__seen = true;")

        def goto(view, fresh=True, **params):
            if fresh:  # a new document: its CSP record is kept first
                csp_seen.extend(d.execute_script("return window.__csp || []") or [])
                d.get("about:blank")
            d.get(s.base + "/" + frag(view, **params))
            ready(view)

        def shot(name):
            d.save_screenshot(os.path.join(shots, name + ".png"))

        def js(script, *args):
            return d.execute_script(script, *args)

        def table_tasks(sel="#runs-table"):
            return js("return [...document.querySelectorAll(arguments[0] + ' tbody tr')].map(r => r.dataset.task);", sel)

        def header(sel="#runs-table"):
            return js("return [...document.querySelectorAll(arguments[0] + ' thead th')].map(th => th.dataset.col || '');", sel)

        def chart_option(el_id):
            return js("return echarts.getInstanceByDom(document.getElementById(arguments[0])).getOption();", el_id)

        all_runs = cli_json("runs")["rows"]
        every = sorted(r["task"] for r in all_runs)
        status_of = {r["task"]: r["status"] for r in all_runs}
        epochs_of_cli = {r["task"]: r["epochs"] for r in all_runs}

        def tid(label):
            return next(t for t in every if t.startswith(label + "-2"))

        # ---- runs: best first, the task and the metric pinned, the sort in the header ----------------
        goto("runs")
        wait_for("the runs table", lambda: len(table_tasks()) > 0, 10)
        check("the runs table lists every run", sorted(table_tasks()) == every, f"{table_tasks()} vs {every}")
        check("it says how many", d.find_element(By.ID, "runs-info").text.endswith(f"of {len(every)}"),
              d.find_element(By.ID, "runs-info").text)
        best_first = [r["task"] for r in cli_json("runs", "--sort", "best(val_loss)")["rows"]]
        check("best first by the main metric, as runs --sort best(val_loss)", table_tasks() == best_first,
              f"{table_tasks()} vs {best_first}")
        check("the task and the metric are the first columns", header()[1:3] == ["task", "best(val_loss)"], str(header()))
        check("which run won, said above the table", d.find_element(By.ID, "best-task").text == best_first[0] and
              "Best by val_loss (lowest)" in d.find_element(By.ID, "runs-best").text, d.find_element(By.ID, "runs-best").text)
        check("the sort shows in the header", js("""const th = document.querySelector('#runs-table th[data-col="best(val_loss)"]');
            return th.getAttribute('aria-sort') === 'ascending' && th.textContent.includes('\u25B2');"""))
        check("and in words", "sorted by best(val_loss), lowest first (lower is better)" in d.find_element(By.ID, "runs-sort").text)
        pinned = js("""const w = document.querySelector('#runs-table .tablewrap');
            const at = () => [...w.querySelectorAll('tbody tr:first-child td.pin')].map(td => Math.round(td.getBoundingClientRect().left));
            const before = at(); w.scrollLeft = 10000; const after = at(); w.scrollLeft = 0;
            return {before, after, scrolled: w.scrollWidth > w.clientWidth};""")
        check("the pinned columns stay put while the table scrolls sideways",
              len(pinned["before"]) == 3 and pinned["before"] == pinned["after"], str(pinned))
        shot("runs")

        # ---- a readable placeholder: LEARNING_RATE keeps its underscore ---------------------------------
        box = d.find_element(By.ID, "runs-where")
        as_is = box.screenshot_as_png
        js("arguments[0].placeholder = arguments[0].placeholder.replaceAll('_', ' ');", box)
        without = box.screenshot_as_png
        check("the placeholder's underscore is drawn (its picture differs without it)", as_is != without)

        # ---- the hostile run shows as text and runs nothing ---------------------------------------------
        cells = js("return [...document.querySelectorAll('#runs-table td')].map(td => td.textContent);")
        check("a task named as markup shows as its text", HOSTILE in cells, str(cells[:20]))
        check("no element came from the logs", js("return document.querySelectorAll('main img, main script').length") == 0)
        check("no script of the logs ran", js("return window.__pwned === undefined"))

        # ---- sorting: a click on a header sorts by it, another reverses ---------------------------------
        def sort_by(col, want):
            d.find_element(By.CSS_SELECTOR, f'#runs-table th[data-col="{col}"]').click()
            wait_for(f"sorted by {col}", lambda: table_tasks() == want, 10)

        want = [r["task"] for r in cli_json("runs", "--sort", "LEARNING_RATE")["rows"]]
        sort_by("LEARNING_RATE", want)
        check("sorted ascending by LEARNING_RATE, as runs --sort", table_tasks() == want)
        check("the URL says the sort", "sort=LEARNING_RATE" in d.current_url, d.current_url)
        want_desc = [r["task"] for r in cli_json("runs", "--sort", "-LEARNING_RATE")["rows"]]
        sort_by("LEARNING_RATE", want_desc)
        check("a second click reverses", table_tasks() == want_desc)

        # ---- --where and the status filter --------------------------------------------------------------
        box = d.find_element(By.ID, "runs-where")
        box.clear()
        box.send_keys("OPTIMIZER_NAME = 'Adam'" + Keys.ENTER)
        adam = sorted(r["task"] for r in cli_json("runs", "--where", "OPTIMIZER_NAME = 'Adam'")["rows"])
        wait_for("the filtered rows", lambda: sorted(table_tasks()) == adam, 10)
        check("a --where filter keeps the runs it matches", sorted(table_tasks()) == adam)
        shot("runs-filtered")
        box = d.find_element(By.ID, "runs-where")
        box.clear()
        box.send_keys("lr < 0.1" + Keys.ENTER)
        err = wait_for("the error", lambda: js("const e = document.querySelector('#runs-error .error pre'); return e && e.textContent;"), 10)
        check("a bad filter shows the error with its caret", "unknown name 'lr'" in err and "\n  ^" in err, err)
        shot("runs-error")
        goto("runs")
        counts = {r["name"]: int(r["detail"]) for r in cli_json("describe")["rows"] if r["kind"] == "tasks" and int(r["detail"])}
        options = wait_for("the statuses", lambda: js("return [...document.querySelectorAll('#runs-status option')].map(o => o.value).filter(v => v);"), 10)
        check("the status filter offers the statuses the data has", sorted(options) == sorted(counts), f"{options} vs {counts}")
        d.find_element(By.CSS_SELECTOR, "#runs-status option[value=FAILED]").click()
        failed = sorted(t for t in every if status_of[t] == "FAILED")
        wait_for("the failed runs", lambda: sorted(table_tasks()) == failed, 10)
        check("choosing FAILED shows the failed runs", sorted(table_tasks()) == failed and len(failed) == 1, str(table_tasks()))

        # ---- live: a new epoch shows without a reload, within 2 s ---------------------------------------
        goto("runs", sort="task")

        def epochs_of(task):
            return js("""
                const rows = [...document.querySelectorAll('#runs-table tbody tr')].filter(r => r.dataset.task === arguments[0]);
                if (!rows.length) return null;
                const cols = [...document.querySelectorAll('#runs-table thead th')].map(th => th.dataset.col);
                return rows[0].children[cols.indexOf('epochs')].textContent;""", task)
        before = epochs_of(HOSTILE)
        subprocess.run([dnnprov, "log", "-c", config, "--task", HOSTILE, "epoch", str(7 + int(before or 0)), "loss=1.1",
                        "val_loss=1.2"], check=True)
        t0 = time.monotonic()
        try:
            wait_for("the new epoch in the table", lambda: epochs_of(HOSTILE) not in (None, before), 2.0, 0.02)
            check("a new epoch shows within 2 s", True)
        except AssertionError as e:
            check("a new epoch shows within 2 s", False, f"{e}; epochs still {epochs_of(HOSTILE)}")
        print(f"live update: {time.monotonic() - t0:.2f} s from the append to the table")

        # ---- grouping by OPTIMIZER_NAME: the groups' counts and means, a band each -------------------------
        # The trainings: a pipeline's other steps have no epochs and no optimizer.
        goto("runs", status="FINISHED", where="epochs > 0", by="OPTIMIZER_NAME")
        wait_for("the groups", lambda: js("return document.querySelectorAll('#groups tbody tr').length") > 0, 10)
        finished = [r for r in all_runs if r["status"] == "FINISHED" and r["epochs"] > 0]
        want = {}
        for r in finished:
            want.setdefault(r["OPTIMIZER_NAME"], []).append(r["best(val_loss)"])
        rows = js("""return [...document.querySelectorAll('#groups tbody tr')].map(tr => [...tr.children].map(td => td.textContent));""")
        got = {r[0]: (int(r[1]), float(r[3].split(" \u00B1 ")[0])) for r in rows}
        check("grouping by OPTIMIZER_NAME: two groups", sorted(got) == ["Adam", "SGD"], str(rows))
        check("with the runs of each", all(got[k][0] == len(v) for k, v in want.items()), f"{got} vs {want}")
        check("and the mean of each's best val_loss", all(abs(got[k][1] - statistics.mean(v)) < 1e-4 * max(1, abs(got[k][1]))
                                                          for k, v in want.items()), f"{got} vs {want}")
        bands = chart_option("groups-chart")["series"]
        check("a line and a band per group", len(bands) == 3 * len(want) and {x["name"] for x in bands} == set(want), str(len(bands)))
        shot("runs-grouped")

        # ---- a copied URL reopens the same view; the back button steps back -----------------------------------
        goto("runs", where="epochs >= 2", metric="val_accuracy", by="OPTIMIZER_NAME", sort="-best(val_accuracy)")
        js("document.querySelectorAll('#runs-table tbody input[type=checkbox]')[0].click();"
           "document.querySelectorAll('#runs-table tbody input[type=checkbox]')[1].click();")
        url = d.current_url

        def view_state():
            return {"where": js("return document.getElementById('runs-where').value"),
                    "by": js("return document.getElementById('runs-by').value"),
                    "tasks": table_tasks(), "sort": js("return document.getElementById('runs-sort').textContent"),
                    "ticked": js("return [...document.querySelectorAll('#runs-table tbody tr.selected')].map(r => r.dataset.task)"),
                    "groups": js("return [...document.querySelectorAll('#groups tbody tr')].map(r => r.textContent)")}
        wait_for("the groups", lambda: js("return document.querySelectorAll('#groups tbody tr').length") > 0, 10)
        state = view_state()
        check("the URL holds the ticked runs", url.count("sel=") == 2 and len(state["ticked"]) == 2, url)
        d.get("about:blank")
        d.get(url)
        ready("runs")
        wait_for("the groups", lambda: js("return document.querySelectorAll('#groups tbody tr').length") > 0, 10)
        check("a copied URL reopens the same view", view_state() == state, f"{view_state()} vs {state}")
        d.find_element(By.CSS_SELECTOR, f'#runs-table tr[data-task="{state["tasks"][0]}"] a.task').click()
        ready("run")
        check("a task id links to its run's page", js("return document.getElementById('run-id').textContent") == state["tasks"][0])
        d.back()
        ready("runs")
        wait_for("the groups", lambda: js("return document.querySelectorAll('#groups tbody tr').length") > 0, 10)
        check("the back button steps back to the same view", d.current_url == url and view_state() == state,
              f"{d.current_url} vs {url}: {view_state()} vs {state}")

        # ---- a run's own page: every section ---------------------------------------------------------------
        goto("run", task=full)
        wait_for("the run page", lambda: js("return !!document.querySelector('#run-segments table')"), 15)
        sections = js("""return [...document.querySelectorAll('main section[data-section]')].map(s =>
            [s.dataset.section, !!s.querySelector('table, .chart') && !s.querySelector('.empty'), s.textContent.length]);""")
        check("a run page shows every section", [x[0] for x in sections] ==
              ["summary", "hyperparameters", "facts", "tags", "metrics", "adaptations", "layers", "tests", "elements", "segments"],
              str(sections))
        check("each with what the run has", all(x[1] for x in sections[1:]), str(sections))
        desc = {(r["kind"], r["name"]): r["value"] for r in cli_json("describe", full)["rows"]}
        text = d.find_element(By.ID, "run-summary").text
        check("its status, message and attempts", "FINISHED" in text and "stopped early: val_loss plateaued" in text and
              d.find_element(By.ID, "run-attempts").text == desc[("run", "attempts")] == "2", text)
        check("and the time it was down", d.find_element(By.ID, "run-down").text.endswith("s") and
              d.find_element(By.ID, "run-down").text != "0.0s", d.find_element(By.ID, "run-down").text)
        check("its note among its tags", "best of the small runs" in d.find_element(By.ID, "run-tags").text)
        check("its facts: the command that ran", desc.get(("fact", "command"), "?") in d.find_element(By.ID, "run-facts").text)
        metrics = js("return [...document.querySelectorAll('#run-metrics .chart')].map(c => c.dataset.metric)")
        check("a curve per metric", sorted(metrics) == ["accuracy", "loss", "val_accuracy", "val_loss"], str(metrics))
        marks = js("return echarts.getInstanceByDom(document.querySelector('#run-metrics .chart')).getOption().series[0].markPoint.data.length")
        check("with its adaptation marked", marks == 1, str(marks))
        check("its layers, its test, its elements", "dense_1" in d.find_element(By.ID, "run-layers").text and
              "0.88" in d.find_element(By.ID, "run-tests").text and "DenseBlock" in d.find_element(By.ID, "run-elements").text)
        href = d.find_element(By.ID, "run-prov-n").get_attribute("href")
        check("a link to its PROV export", "/api/export?" in href and "format=prov-n" in href and
              urllib.parse.quote(full) in href, href)
        check("its log segments", len(cli_json("segments", full)["rows"]) ==
              js("return document.querySelectorAll('#run-segments tbody tr').length"))
        shot("run")

        # ---- a diff of two runs: what differs, where the curves part ---------------------------------------------
        a, b = tid("adam-lr0.1"), tid("adam-lr0.001")
        cli_diff = cli_json("diff", a, b)
        goto("diff", a=a, b=b)
        wait_for("the diff", lambda: js("return !!document.getElementById('diff-note')"), 15)
        named = js("return [...document.querySelectorAll('#diff-table tr[data-section=hyperparameter] td.name')].map(td => td.textContent)")
        want_named = [r["name"] for r in cli_diff["rows"] if r["section"] == "hyperparameter"]
        check("the diff names the hyperparameters that differ", named == want_named and "LEARNING_RATE" in named, f"{named} vs {want_named}")
        check("and says where the curves part, as dnnprov diff", d.find_element(By.ID, "diff-note").text == cli_diff["about"]["note"] and
              " parts at epoch " in cli_diff["about"]["note"], d.find_element(By.ID, "diff-note").text)
        parts = {r["name"]: r["epoch"] for r in cli_diff["rows"] if r["section"] == "parting"}
        marked = js("""return Object.fromEntries([...document.querySelectorAll('#diff-result .grid .chart')].map(c => {
            const s = echarts.getInstanceByDom(c).getOption().series[0];
            return [c.dataset.metric, s.markLine ? s.markLine.data[0].xAxis : null]; }))""")
        check("each metric's chart marks the epoch where the curves part", marked == parts, f"{marked} vs {parts}")
        check("both runs' adaptations on one timeline", len(chart_option("diff-timeline")["series"][0]["data"]) ==
              sum((r["a"] is not None) + (r["b"] is not None) for r in cli_diff["rows"] if r["section"] == "adaptation"))
        shot("diff")

        # ---- compare: curves, marks that never overlap, bounds, a legend that hides a run ---------------------------
        picked = [tid(x) for x in ["sgd-lr0.1", "adam-lr0.1", "adam-lr0.001"]]
        goto("compare", task=picked, metric="val_accuracy")
        series = chart_option("compare-chart")["series"]
        check("one curve per run", sorted(x["name"] for x in series) == sorted(picked), str([x["name"] for x in series]))
        check("each curve has a point per epoch", all(len(x["data"]) == epochs_of_cli[x["name"]] for x in series))
        # An adaptation after the last epoch (a scheduler's step after
        # training, recorded at the epoch after) has no point to mark.
        adapts = {t: len([a for a in cli_json("adaptations", "--task", t)["rows"] if a["epoch"] <= epochs_of_cli[t]])
                  for t in picked}
        check("each curve marks its adaptations", all(len(x["markPoint"]["data"]) == adapts[x["name"]] for x in series), str(adapts))
        offsets = {}
        for x in series:
            for m in x["markPoint"]["data"]:
                offsets.setdefault(m["coord"][0], []).append(m["symbolOffset"][1])
        check("marks at one epoch are stacked, never on each other", all(len(set(v)) == len(v) for v in offsets.values()), str(offsets))
        top = js("""const c = echarts.getInstanceByDom(document.getElementById('compare-chart'));
            return c.getModel().getComponent('yAxis').axis.scale.getExtent()[1];""")
        check("the val_accuracy axis ends at 1", top == 1, str(top))
        js("echarts.getInstanceByDom(document.getElementById('compare-chart')).dispatchAction({type: 'legendUnSelect', name: arguments[0]});", picked[0])
        check("a click on the legend hides a run", js("""const c = echarts.getInstanceByDom(document.getElementById('compare-chart'));
            return c.getOption().legend[0].selected[arguments[0]] === false;""", picked[0]))
        check("the chart describes its curves", all(t in (d.find_element(By.ID, "compare-chart").get_attribute("aria-label") or "") for t in picked[1:]))
        mark()
        d.find_element(By.ID, "diff-only").click()
        ready("compare")
        diff_rows = js("return [...document.querySelectorAll('#hyp-table tbody tr td:first-child')].map(td => td.textContent)")
        check("differences only: the learning rate among them", "LEARNING_RATE" in diff_rows and "DECAY" not in diff_rows, str(diff_rows))
        shot("compare")
        # Task ids completed as typed; "did you mean" for an id the index lacks.
        add = d.find_element(By.ID, "add-task")
        add.send_keys("sgd-lr0.0")
        want = [r["task"] for r in cli_json("tasks", "--match", "sgd-lr0.0")["rows"]]
        offered = lambda: js("return [...document.querySelectorAll('#' + document.getElementById('add-task').getAttribute('list') + ' option')].map(o => o.value)")
        try:
            wait_for("the ids offered", lambda: offered() == want, 10)
        except AssertionError:
            pass
        check("task ids completed as typed, as dnnprov tasks --match", offered() == want and len(want) == 2, f"{offered()} vs {want}")
        d.find_element(By.ID, "add-button").click()
        wait_for("did you mean", lambda: js("return document.querySelectorAll('#add-error .didyoumean button').length") > 0, 10)
        check("an unknown id says what it may have meant, not every id",
              js("return [...document.querySelectorAll('#add-error .didyoumean button')].map(b => b.textContent)") == want)
        mark()
        d.find_element(By.CSS_SELECTOR, "#add-error .didyoumean button").click()
        ready("compare")
        check("a choice adds that run", js("return [...document.querySelectorAll('#chips .chip a')].map(a => a.textContent)") == picked + [want[0]])

        # ---- hyperparameters: honest views ---------------------------------------------------------------------------
        goto("hyper")
        cmp = cli_json("compare")
        # The page's rule (js/hyper.mjs): the runs with epochs, not a pipeline's other steps.
        typical = statistics.median(r["epochs"] for r in all_runs if r["epochs"] > 0)
        cutoff = -(-typical * 0.5 // 1)
        ranked = [r["task"] for r in cmp["rows"] if r["status"] == "FINISHED" and epochs_of_cli[r["task"]] >= cutoff]
        short = [r["task"] for r in cmp["rows"] if r["status"] == "FINISHED" and epochs_of_cli[r["task"]] < cutoff]
        failed = [r["task"] for r in cmp["rows"] if r["status"] == "FAILED"]
        opt = chart_option("parallel")
        names = {x["name"]: [p["name"] for p in x["data"]] for x in opt["series"]}
        check("the ranked lines: the FINISHED runs that are not short", sorted(names["ranked runs"]) == sorted(ranked), f"{names} vs {ranked}")
        check("the short run marked apart", names.get("short runs") == short and len(short) == 1, str(names))
        check("a FAILED run is left out by default", not any(t in sum(names.values(), []) for t in failed), str(names))
        best = ranked[0]  # compare's order: best first
        last = opt["series"][0]["data"][-1]
        check("the best run is drawn last, on top", last["name"] == best, f"{last['name']} vs {best}")
        widths = [(p.get("lineStyle") or {}).get("width", 0) for p in opt["series"][0]["data"]]
        check("and highlighted", widths[-1] > 3 and all(w < widths[-1] for w in widths[:-1]), str(widths))
        colour = js("""const c = echarts.getInstanceByDom(document.getElementById('parallel'));
            const data = c.getModel().getSeriesByIndex(0).getData();
            return data.getItemVisual(data.count() - 1, 'style').stroke;""")
        rgb = tuple(int(TOP_COLOUR[i:i + 2], 16) for i in (1, 3, 5))
        check("in the scale's top colour", str(colour).replace(" ", "").lower() in (TOP_COLOUR, "rgba(%d,%d,%d,1)" % rgb, "rgb(%d,%d,%d)" % rgb),
              str(colour))
        check("the scale has its legend", opt["visualMap"][0]["inRange"]["color"][0].lower() == TOP_COLOUR and
              "best" in " ".join(opt["visualMap"][0]["text"]), str(opt["visualMap"]))
        axes = [x["name"] for x in opt["parallelAxis"]]
        check("a constant hyperparameter has no axis", "DECAY" not in axes and "BATCH_SIZE" not in axes and "LEARNING_RATE" in axes, str(axes))
        check("and is said under the chart", "DECAY=0" in d.find_element(By.ID, "same-hyps").text)
        note = d.find_element(By.ID, "ranking-n").text
        check("the ranking states its n and what it leaves out",
              note.startswith(f"n = {len(ranked)} FINISHED runs") and "1 FAILED" in note and "1 shorter than" in note, note)
        check("Spearman once, not in every row", "spearman" not in header("#effect-table") and
              "Spearman" in d.find_element(By.ID, "effect-rho").text, str(header("#effect-table")))
        eff_labels = js("return [...document.querySelectorAll('#effect-table tbody tr td:first-child')].map(td => td.textContent)")
        boxes = chart_option("boxplot")["xAxis"][0]["data"]
        check("the box plot's groups are the effect table's", boxes == eff_labels, f"{boxes} vs {eff_labels}")
        rho = {r["LEARNING_RATE"] for r in cli_json("effect", "--hyp", "LEARNING_RATE", "--where",
               f"status = 'FINISHED' and epochs >= {int(cutoff)}")["rows"]}
        check("over the runs the ranking counts", len(eff_labels) == len(rho), f"{eff_labels} vs {rho}")
        axis = axes.index("LEARNING_RATE")
        js("""const c = echarts.getInstanceByDom(document.getElementById('parallel'));
            c.dispatchAction({type: 'axisAreaSelect', parallelAxisId: c.getModel().getComponent('parallelAxis', arguments[0]).id, intervals: [[0.05, 0.2]]});""", axis)
        fast = sorted(r["task"] for r in cli_json("runs", "--where",
                      f"status = 'FINISHED' and epochs >= {int(cutoff)} and LEARNING_RATE >= 0.05 and LEARNING_RATE <= 0.2")["rows"])
        wait_for("the brushed rows", lambda: sorted(table_tasks("#brushed")) == fast, 10)
        check("brushing an axis narrows the table to its runs", sorted(table_tasks("#brushed")) == fast, f"{table_tasks('#brushed')} vs {fast}")
        shot("hyperparameters")
        mark()
        d.find_element(By.ID, "hyper-all").click()
        ready("hyper")
        opt = chart_option("parallel")
        other = next((x for x in opt["series"] if x["name"] == "other statuses"), None)
        check("toggled, the FAILED run is drawn, apart", other is not None and all(t in [p["name"] for p in other["data"]] for t in failed) and
              other["data"][0]["lineStyle"]["type"] == "dashed", str(other)[:300])
        check("and stays out of the colours", not any(t in [p["name"] for p in opt["series"][0]["data"]] for t in failed))

        # ---- the other views --------------------------------------------------------------------------------------------
        goto("dataflows")
        badges = js("return [...document.querySelectorAll('#status-counts .badge')].map(b => b.textContent)")
        check("the dataflow's tasks by status, as the data has them", sorted(badges) == sorted(f"{k} {v}" for k, v in counts.items()), str(badges))
        model = cli_json("describe").get("model")
        if model:
            nodes = js("return echarts.getInstanceByDom(document.getElementById('spec-graph')).getOption().series[0].data.map(n => n.name)")
            check("the model as a graph: its transformations", all(t["name"] in nodes for t in model["transformations"]), str(nodes))
        else:
            check("without describe's model, no graph made of its prose", js("return !document.getElementById('spec-graph')"))
        shot("dataflows")
        goto("adaptations")
        nad = len(cli_json("adaptations")["rows"])
        check("the adaptations table", js("return document.querySelectorAll('#adapt-table tbody tr').length") == nad)
        shot("adaptations")
        goto("query")
        example = d.find_element(By.ID, "query-text").get_attribute("value")
        mark()
        d.find_element(By.ID, "query-run").click()
        ready("query")
        want = [r["task"] for r in json.loads(subprocess.run([dnnprov, "sql", "-c", config, "--format", "json", example],
                                                             capture_output=True, text=True, check=True).stdout)["rows"]]
        wait_for("the SQL answer", lambda: len(table_tasks("#query-result")) > 0, 10)
        check("the query view answers its SQL example as dnnprov sql", table_tasks("#query-result") == want and len(want) > 1)
        check("the statement is in the URL", "q=select" in d.current_url, d.current_url)
        shot("query")
        goto("query", q=f"select task from tasks where task = '{HOSTILE}'")
        wait_for("the hostile task", lambda: table_tasks("#query-result") == [HOSTILE], 10)
        check("SQL: the hostile id is text there too", js("return window.__pwned === undefined"))
        goto("query", q="delete from tasks")
        err = wait_for("the refusal", lambda: js("const e = document.querySelector('#query-result .error pre'); return e && e.textContent;"), 10)
        check("SQL that writes is refused", "may not be modified" in err, err)
        goto("query", mode="where", q="max(val_accuracy) > 0.5 and OPTIMIZER_NAME = 'SGD'")
        want = sorted(r["task"] for r in cli_json("runs", "--where", "max(val_accuracy) > 0.5 and OPTIMIZER_NAME = 'SGD'")["rows"])
        wait_for("the query's rows", lambda: sorted(table_tasks("#query-result")) == want, 10)
        check("the --where mode answers as runs --where", sorted(table_tasks("#query-result")) == want)
        goto("export", task=[full])
        href = d.find_element(By.ID, "export-provn").get_attribute("href")
        check("the export links to the API", "/api/export?" in href and "format=prov-n" in href, href)
        shot("export")

        # ---- lineage: the best run's picture, from the raw data to the evaluation ------------------------
        d.set_window_size(1920, 1080)  # one common screen
        goto("lineage")
        def picture_ids():
            return js("return [...document.querySelectorAll('#lineage-picture svg.lineage g.node')].map(g => g.dataset.id)")
        wait_for("the lineage picture", lambda: len(picture_ids()) > 0, 20)
        run = d.find_element(By.ID, "lineage-task").get_attribute("value")
        best = cli_json("runs", "--sort", "best(val_loss)", "--where", "epochs > 0")["rows"][0]["task"]
        check("the view opens on the best run by the main metric", run == best, f"{run} vs {best}")
        # The run the pipeline's Select step chose (by its own rule, not
        # always the best by val_loss): its model goes on to the evaluation.
        select = next(r["task"] for r in all_runs if r["task"].startswith("select-"))
        run = next(r["task"] for r in cli_json("lineage", select, "--depth", "2")["rows"]
                   if r["kind"] == "task" and r["transformation"] == "TrainingModel")
        if run != best:
            goto("lineage", task=[run])
            wait_for("the chosen run's picture", lambda: len(picture_ids()) > 0, 20)
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
        result = js("return [...document.querySelectorAll('#lineage-picture g.node')].find(g => g.dataset.id === 'result')"
                                  ".querySelectorAll('text').length")
        check("the test result holds its metrics, not the hyperparameters", result == 1 + sum(
            isinstance(tested.get(m), (int, float)) for m in ("loss", "accuracy")) and result > 1, str(result))
        raw = next(key(r) for r in up if r["role"] == "raw_data")
        model = next(key(r) for r in down if r["role"] == "model")
        def x_of(i):
            return js("const g = [...document.querySelectorAll('#lineage-picture g.node')].find(g => g.dataset.id === arguments[0]);"
                                    " return g.getBoundingClientRect().left;", i)
        check("left to right: the raw data, the run, the model", x_of(raw) < x_of("t:" + up[0]["dataflow"] + "/" + run) < x_of(model))
        fits = js("const b = document.getElementById('lineage-picture'); return [b.scrollWidth, b.clientWidth];")
        check("on one screen: the picture fits a 1920-pixel window, no scrolling", fits[0] <= fits[1], str(fits))
        font = js("return parseFloat(getComputedStyle(document.querySelector('#lineage-picture svg.lineage text')).fontSize)")
        check("labels of at least 9 pt (12 px)", font >= 12, str(font))
        def epoch_lines():
            return js("return [...document.querySelectorAll('#lineage-picture g.node')].find(g => g.dataset.id === 'epochs').querySelectorAll('text').length")
        collapsed = epoch_lines()
        shot("lineage")
        js("[...document.querySelectorAll('#lineage-picture g.node')].find(g => g.dataset.id === 'epochs')"
                         ".dispatchEvent(new MouseEvent('click', {bubbles: true}))")
        epochs_run = next(r["epochs"] for r in cli_json("runs")["rows"] if r["task"] == run)
        wait_for("the epochs expanded", lambda: epoch_lines() == epochs_run, 10)
        check("a click expands the epochs node: a line per epoch", epoch_lines() == epochs_run and collapsed == 2, f"{collapsed} {epoch_lines()}")
        shot("lineage-expanded")
        train = next(r for r in up if r["depth"] == 1 and r["role"] == "train_data")
        sharing = sorted(r["task"] for r in cli_json("lineage", train["fingerprint"], "--down", "--depth", "1")["rows"] if r["kind"] == "task")
        shown = sorted({r for r in js("return [...document.querySelectorAll('#lineage-shared tbody tr')]"
                                                  ".filter(r => r.children[2].textContent === arguments[0]).map(r => r.dataset.task)", train["fingerprint"])})
        check("the runs that used the same training data, as lineage --down", shown == sharing and len(sharing) > 1, f"{shown} vs {sharing}")
        # A pipeline's step: no epochs, no test; its picture all the same.
        split = next(r for r in up if r.get("transformation") == "Split")["task"]
        goto("lineage", task=[split])
        def centre():
            return js("const g = document.querySelector('#lineage-picture g.node.run'); return g && g.dataset.id;")
        wait_for("the split's picture", lambda: centre() == "t:" + up[0]["dataflow"] + "/" + split, 20)
        check("a step's picture: no epochs, no error", "epochs" not in picture_ids() and not d.find_elements(By.CSS_SELECTOR, "main pre.error"))
        # The hostile run read a file whose name is markup: text in the picture and the tables.
        goto("lineage", task=[HOSTILE])
        wait_for("the hostile run's picture", lambda: centre() == "t:" + up[0]["dataflow"] + "/" + HOSTILE, 20)
        texts = js("return [...document.querySelectorAll('#lineage-picture text, #lineage-up td')].map(t => t.textContent)")
        check("an entity named as markup shows as its text", any(HOSTILE_FILE in t for t in texts), str(texts))
        check("no element came from the entity", js("return document.querySelectorAll('main img, main script, main svg svg').length") == 0)
        check("no script of the entity ran", js("return window.__pwned === undefined"))
        d.set_window_size(1400, 1000)

        csp_seen.extend(js("return window.__csp") or [])
        check("no view broke the Content-Security-Policy", csp_seen == [], str(csp_seen))
        check("still no script of the logs ran", js("return window.__pwned === undefined"))
finally:
    if d:
        d.quit()
    follower.terminate()
    follower.wait()

sys.exit(check.finish())
