"""dnnprov.optuna.ProvenanceCallback on real Optuna studies (python3-optuna):
each trial a task with its parameters, reports as epochs, its value as the
test, PRUNED and FAILED ends; a parameter first suggested by a later trial
is declared then; the callback alone records trials after the fact."""

import os
import subprocess

import optuna

import dnnprov
import dnnprov.optuna
from support import DNNPROV, LogTestCase

optuna.logging.set_verbosity(optuna.logging.ERROR)


def objective(trial):
    # Trial 2 on suggests `momentum` too: a parameter that first appears
    # in a later trial.  Trial 1 is pruned at its second report, trial 3
    # fails.
    lr = trial.suggest_float("lr", 1e-3, 1e-1, log=True)
    kind = trial.suggest_categorical("optimizer", ["sgd", "adam"])
    if trial.number >= 2:
        trial.suggest_float("momentum", 0.0, 0.9)
    for step in range(1, 4):
        trial.report(lr * step, step)
        if trial.number == 1 and step == 2:
            raise optuna.TrialPruned()
    if trial.number == 3:
        raise ValueError("diverged")
    return lr * (2 if kind == "adam" else 1)


class OptunaTest(LogTestCase):

    def runs(self, config):
        subprocess.run([DNNPROV, "index", "-c", config, "-q"], check=True, capture_output=True)
        rows = dnnprov.runs(config, sort="start").astype(object).to_dict("records")
        return {r["task"].split("-")[0]: {k: None if v is None or v != v else v for k, v in r.items()}
                for r in rows}

    def study(self, cb, wrapped):
        study = optuna.create_study(study_name="s1", sampler=optuna.samplers.RandomSampler(seed=3))
        study.optimize(cb.objective(objective) if wrapped else objective, n_trials=5, callbacks=[cb],
                       catch=(ValueError,))
        return study

    def check(self, config, study, wrapped):
        with open(config) as f:
            header = f.readline().rstrip("\n")
        self.assertEqual(header, dnnprov.optuna.HEADER)
        runs = self.runs(config)
        self.assertEqual(sorted(runs), ["trial0", "trial1", "trial2", "trial3", "trial4"])
        self.assertEqual({k: r["status"] for k, r in runs.items()},
                         {"trial0": "FINISHED", "trial1": "PRUNED", "trial2": "FINISHED", "trial3": "FAILED",
                          "trial4": "FINISHED"})
        for t in study.trials:
            r = runs[f"trial{t.number}"]
            self.assertAlmostEqual(r["lr"], t.params["lr"])
            self.assertEqual(r["optimizer"], t.params["optimizer"])
            if t.number >= 2:
                self.assertAlmostEqual(r["MOMENTUM"], t.params["momentum"])
            else:
                self.assertIsNone(r["MOMENTUM"])
            self.assertEqual(r["tags"], {"study": "s1", "trial": t.number})
            self.assertEqual(r["epochs"], len(t.intermediate_values))
            curve = dnnprov.curve(config, r["task"])
            self.assertEqual([(e, v) for e, v in zip(curve["epoch"], curve["value"])],
                             sorted(t.intermediate_values.items()))
        tests = {r["task"].split("-")[0]: r["value"] for r in dnnprov.test(config).to_dict("records")}
        self.assertEqual(sorted(tests), ["trial0", "trial2", "trial4"])
        self.assertAlmostEqual(tests["trial2"], study.trials[2].value)
        pruned = dnnprov.runs(config, where="status = 'pruned'")
        self.assertEqual([t.split("-")[0] for t in pruned["task"]], ["trial1"])
        failed = runs["trial3"]
        if wrapped:
            self.assertEqual(failed["message"], "ValueError: diverged")
        # SQL and PROV say the same.
        rows = dnnprov.sql("select status, count(*) as n from tasks group by status order by status", config=config)
        self.assertEqual(dict(zip(rows["status"], rows["n"])), {"FAILED": 1, "FINISHED": 3, "PRUNED": 1})
        prov = subprocess.run([DNNPROV, "export", "-c", config, "--format", "prov-json"], capture_output=True,
                              text=True)
        self.assertEqual(prov.returncode, 0, prov.stderr)
        self.assertIn('"PRUNED"', prov.stdout)

    def test_reports_recorded_as_they_happen(self):
        config = os.path.join(self.dir, "study.yaml")
        cb = dnnprov.optuna.ProvenanceCallback(config)
        self.check(config, self.study(cb, wrapped=True), wrapped=True)
        # momentum was declared when trial 2 suggested it, not before.
        begins = [r["hyperparameters"] for r in self.records(kinds="begin")]
        self.assertEqual(["MOMENTUM" in b for b in begins], [False, False, True, True, True])
        self.assertEqual(self.records(kinds="refused"), [])

    def test_the_callback_alone(self):
        config = os.path.join(self.dir, "study.yaml")
        cb = dnnprov.optuna.ProvenanceCallback(config)
        self.check(config, self.study(cb, wrapped=False), wrapped=False)

    def test_a_file_written_by_hand_is_used_as_it_is(self):
        config = self.write_config("dataflow: mine\nhyperparameters: {lr: numeric}\n"
                                   "metrics: [value]\nval_metrics: false\n", "mine.yaml")
        with open(config) as f:
            before = f.read()
        cb = dnnprov.optuna.ProvenanceCallback(config)

        def units_later(trial):
            lr = trial.suggest_float("lr", 1e-3, 1e-1, log=True)
            if trial.number == 1:
                trial.suggest_int("units", 8, 64)  # undeclared: a typo to dnnprov
            trial.report(lr, 1)
            return lr

        study = optuna.create_study(study_name="s1", sampler=optuna.samplers.RandomSampler(seed=3))
        study.optimize(cb.objective(units_later), n_trials=3, callbacks=[cb], catch=(ValueError,))
        with open(config) as f:
            self.assertEqual(f.read(), before)
        # The undeclared name raised at the trial's begin (where it costs
        # seconds): Optuna records a failure, and nothing was recorded of it.
        self.assertEqual([t.state.name for t in study.trials], ["COMPLETE", "FAIL", "COMPLETE"])
        self.assertEqual(sorted(self.runs(config)), ["trial0", "trial2"])


if __name__ == "__main__":
    import unittest
    unittest.main()
