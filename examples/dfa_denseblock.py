"""Keras-Prov's DenseBlock example (its README), corrected so that it runs:
a user-defined transformation declared with dfa-lib-python's classes and a
task that records its input and output.

Written for DfAnalyzer, it imported dfa_lib_python's modules (one per
class) and posted to DFA_URL; with dnnprov only the imports change (or,
unchanged, point DFA_URL at `dnnprov receive --dfanalyzer`).  It records
into the experiment file DNNPROV_CONFIG names, else into
keras-alexnet-df.yaml in the working folder, written from the declaration
the first time.  Each run of the program is a run of its own, although the
task's id is always 4.

What the README's text had wrong: `Task(identifier=4, dataflow_tag,
"DenseBlock")` is a syntax error (a positional argument after a keyword);
`model.get_dataflow()` needs Keras-Prov's patched Keras (a Dataflow of the
same tag is declared here instead, and saved, which the README forgot);
`output` was never defined; the datasets were named iExtrairNumeros and
oExtrairNumeros, sets of another example, where iDenseBlock and
oDenseBlock were declared.
"""
from dnnprov.dfa import Attribute, AttributeType, DataSet, Dataflow, Element, Set, SetType, Task, Transformation

dataflow_tag = "keras-alexnet-df"
df = Dataflow(dataflow_tag)

tf_denseb = Transformation("DenseBlock")
tf_denseb_input = Set("iDenseBlock", SetType.INPUT,
                      [Attribute("growth_rate", AttributeType.NUMERIC),
                       Attribute("layers_db", AttributeType.NUMERIC)])
tf_denseb_output = Set("oDenseBlock", SetType.OUTPUT,
                       [Attribute("output", AttributeType.TEXT)])
tf_denseb.set_sets([tf_denseb_input, tf_denseb_output])
df.add_transformation(tf_denseb)
df.save()

t_denseb = Task(4, dataflow_tag, "DenseBlock")
# Data manipulation, example:
growth_rate = 1
layers_db = 33
t_denseb_input = DataSet("iDenseBlock", [Element([growth_rate, layers_db])])
t_denseb.add_dataset(t_denseb_input)
t_denseb.begin()
# Data manipulation, example: the name of the block's output tensor
output = "dense_block_1/concat:0"
t_denseb_output = DataSet("oDenseBlock", [Element([output])])
t_denseb.add_dataset(t_denseb_output)
t_denseb.end()
