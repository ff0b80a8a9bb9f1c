"""What the Python tests share: a temporary experiment folder and the logs
read back through `dnnprov cat`, the C reader, so that every assertion is
about what was written to disk rather than about the binding's own state.

The tests run with PYTHONPATH=python and DNNPROV_LIB set by
tests/test_python.sh; DNNPROV_BIN names the command (default build/dnnprov).
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DNNPROV = os.environ.get("DNNPROV_BIN", os.path.join(REPO, "build", "dnnprov"))

# An experiment that uses every kind of record.
CONFIG = """\
dataflow: py-df
hyperparameters:
  OPTIMIZER_NAME: true
  LEARNING_RATE: true
  DECAY: true
  MOMENTUM: true
  NUM_EPOCHS: true
  BATCH_SIZE: true
  NUM_LAYERS: true
  LR_SCHEDULER: text
  seed: numeric
  dataset: file
metrics: [loss, accuracy]
adaptation: true
transformations:
  DenseBlock:
    depends_on: [TrainingModel]
    input:
      iDenseBlock: {growth_rate: numeric, layers_db: numeric, note: text}
"""

# Keys `dnnprov cat` adds to every record, and `time`: not what a test checks.
_LOCATION = ("segment", "offset", "time", "mono", "dataflow")


class LogTestCase(unittest.TestCase):
    """A test with its own experiment folder: self.config is the YAML path."""

    config_text = CONFIG

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="dnnprov-py-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.config = os.path.join(self.dir, "exp.yaml")
        self.write_config(self.config_text)
        self.log_dir = os.path.join(self.dir, "dnnprov-logs")

    def write_config(self, text, name="exp.yaml"):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def records(self, task=None, kinds=None):
        """The records in the logs, in order, without location keys and times."""
        args = [DNNPROV, "cat"]
        if kinds:
            args += ["--kind", kinds]
        if task:
            args += ["--task", task]
        out = subprocess.run(args + [self.log_dir], check=True, capture_output=True,
                             text=True).stdout
        found = []
        for line in out.splitlines():
            record = json.loads(line)
            for key in _LOCATION:
                record.pop(key, None)
            found.append(record)
        return found

    def only(self, kind, task=None):
        """The one record of a kind."""
        found = self.records(task, kind)
        self.assertEqual(len(found), 1, f"{kind} records: {found}")
        return found[0]

    def segments(self):
        return sorted(os.path.join(root, name)
                      for root, _, names in os.walk(self.log_dir)
                      for name in names if name.endswith(".dnplog"))

    def check_output(self):
        """`dnnprov check` on the log folder: one line per segment."""
        done = subprocess.run([DNNPROV, "check", self.log_dir], capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        return done.stdout
