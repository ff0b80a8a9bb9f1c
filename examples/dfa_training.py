"""A training loop instrumented as Keras-Prov instruments Keras's fit: the
dataflow Keras-Prov declares (TrainingModel, Adaptation, TestingModel), and
tasks 1, 2 and 3 of one exec posting hyperparameters, layers, every
epoch's metrics, each learning-rate step and the test.

Written for DfAnalyzer it would import dfa_lib_python's modules; with
dnnprov only the imports change (or, unchanged, point DFA_URL at
`dnnprov receive --dfanalyzer`).  It records into the experiment file
DNNPROV_CONFIG names, else into keras-alexnet-df.yaml in the working folder,
written from the declaration the first time.  The model is a logistic
regression on made-up points, in plain Python, so that it runs anywhere.

    PYTHONPATH=python python3 examples/dfa_training.py [--epochs N]
"""
import math
import random
import sys
import time
from datetime import datetime

from dnnprov.dfa import Attribute, AttributeType, DataSet, Dataflow, Element, Set, SetType, Task, Transformation

dataflow_tag = "keras-alexnet-df"
exec_tag = dataflow_tag + str(datetime.now())
hyps = ["OPTIMIZER_NAME", "LEARNING_RATE", "NUM_EPOCHS", "NUM_LAYERS"]
metrics = ["loss", "accuracy"]

# ---- the dataflow, as Keras-Prov's Provenance class declares it ----------------------
df = Dataflow(dataflow_tag)
tf1 = Transformation("TrainingModel")
tf1_layers = Set("iLayers", SetType.INPUT, [Attribute("ILTIMESTAMP", AttributeType.TEXT),
                                             Attribute("NAME", AttributeType.TEXT),
                                             Attribute("ATTRIBUTE_TYPE", AttributeType.TEXT),
                                             Attribute("VALUE", AttributeType.TEXT)])
tf1_input = Set("iTrainingModel", SetType.INPUT,
                [Attribute("ITRAIN_TIMESTAMP", AttributeType.TEXT)] +
                [Attribute(h, AttributeType.TEXT if h == "OPTIMIZER_NAME" else AttributeType.NUMERIC) for h in hyps])
tf1_output = Set("oTrainingModel", SetType.OUTPUT,
                 [Attribute("OTRAIN_TIMESTAMP", AttributeType.TEXT), Attribute("ELAPSED_TIME", AttributeType.TEXT)] +
                 [Attribute(m, AttributeType.NUMERIC) for m in metrics + ["val_" + m for m in metrics]])
tf1.set_sets([tf1_layers, tf1_input, tf1_output])
df.add_transformation(tf1)
tf2 = Transformation("Adaptation")
tf1_output.set_type(SetType.INPUT)
tf1_output.dependency = "TrainingModel"
tf2.set_sets([tf1_output, Set("oAdaptation", SetType.OUTPUT, [Attribute("NEW_LRATE", AttributeType.NUMERIC),
                                                                Attribute("ATIMESTAMP", AttributeType.TEXT),
                                                                Attribute("EPOCH_ID", AttributeType.NUMERIC),
                                                                Attribute("ADAPTATION_ID", AttributeType.NUMERIC)])])
df.add_transformation(tf2)
tf3 = Transformation("TestingModel")
tf3.set_sets([tf1_output, Set("oTestingModel", SetType.OUTPUT, [Attribute("OTEST_TIMESTAMP", AttributeType.TEXT)] +
                              [Attribute(m, AttributeType.NUMERIC) for m in metrics])])
df.add_transformation(tf3)
df.save()

# ---- the data and the model ----------------------------------------------------------
rnd = random.Random(3)
points = [(rnd.gauss(1 if c else -1, 1.0), c) for c in (rnd.random() < 0.5 for _ in range(400))]
train, val, test = points[:240], points[240:320], points[320:]
w, b = 0.0, 0.0


def evaluate(data):
    loss = acc = 0.0
    for x, c in data:
        p = 1 / (1 + math.exp(-(w * x + b)))
        loss -= math.log(p if c else 1 - p)
        acc += (p > 0.5) == c
    return loss / len(data), acc / len(data)


epochs = int(sys.argv[sys.argv.index("--epochs") + 1]) if "--epochs" in sys.argv else 5
lr = 0.5

# ---- task 1, TrainingModel: begin, layers, hyperparameters ---------------------------
t1 = Task(1, dataflow_tag, exec_tag, "TrainingModel")
t1.begin()
now = time.time()
for name, kind, value in (("dense_1", "activation", "sigmoid"),):
    t1.add_dataset(DataSet("iLayers", [Element([now, name, kind, value])]))
    t1.save()
t1.add_dataset(DataSet("iTrainingModel", [Element([now, "SGD", lr, epochs, 1])]))
t1.save()

adaptation_id = 0
for epoch in range(epochs):
    # A step schedule, as a LearningRateScheduler: task 2 records the change.
    if epoch and epoch % 3 == 0:
        lr /= 2
        adaptation_id += 1
        t2 = Task(2, dataflow_tag, exec_tag, "Adaptation", dependency=t1)
        t2.begin()
        t2.add_dataset(DataSet("oAdaptation", [Element([lr, time.time(), epoch, adaptation_id])]))
        t2.end()
    start = time.time()
    for x, c in train:
        p = 1 / (1 + math.exp(-(w * x + b)))
        w -= lr * (p - c) * x / len(train) * 10
        b -= lr * (p - c) / len(train) * 10
    loss, acc = evaluate(train)
    val_loss, val_acc = evaluate(val)
    t1.add_dataset(DataSet("oTrainingModel", [Element([time.time(), time.time() - start, loss, acc, val_loss,
                                                        val_acc])]))
    if epoch == epochs - 1:
        t1.end()
    else:
        t1.save()
    print(f"epoch {epoch + 1}: loss={loss:.4f} accuracy={acc:.3f} val_accuracy={val_acc:.3f}")

# ---- task 3, TestingModel --------------------------------------------------------------
t3 = Task(3, dataflow_tag, exec_tag, "TestingModel", dependency=t1)
t3.begin()
test_loss, test_acc = evaluate(test)
t3.add_dataset(DataSet("oTestingModel", [Element([time.time(), test_loss, test_acc])]))
t3.end()
print(f"test: loss={test_loss:.4f} accuracy={test_acc:.3f} (run {exec_tag})")
