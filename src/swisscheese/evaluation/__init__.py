"""Evaluation and red teaming: measure every layer and the whole stack.

``swisscheese eval`` is the shell's way in; from Python::

    from swisscheese.evaluation import EvalConfig, evaluate, load_items, write_outputs

    attacks, benign = load_items(["builtin:attacks"], ["builtin:benign"])
    results = evaluate(EvalConfig(k=10, seed=0), attacks, benign, workers=2)
    write_outputs(results, Path("out/eval"))
"""

from swisscheese.evaluation.corpora import CorpusError as CorpusError
from swisscheese.evaluation.corpora import Document as Document
from swisscheese.evaluation.corpora import Item as Item
from swisscheese.evaluation.corpora import load_corpus as load_corpus
from swisscheese.evaluation.harness import EvalConfig as EvalConfig
from swisscheese.evaluation.mutators import MUTATORS as MUTATORS
from swisscheese.evaluation.results import SCHEMA as SCHEMA
from swisscheese.evaluation.run import DEFAULT_ATTACKS as DEFAULT_ATTACKS
from swisscheese.evaluation.run import DEFAULT_BENIGN as DEFAULT_BENIGN
from swisscheese.evaluation.run import evaluate as evaluate
from swisscheese.evaluation.run import load_items as load_items
from swisscheese.evaluation.run import record_evidence as record_evidence
from swisscheese.evaluation.run import write_outputs as write_outputs

__all__ = [
    "DEFAULT_ATTACKS",
    "DEFAULT_BENIGN",
    "MUTATORS",
    "SCHEMA",
    "CorpusError",
    "Document",
    "EvalConfig",
    "Item",
    "evaluate",
    "load_corpus",
    "load_items",
    "record_evidence",
    "write_outputs",
]
