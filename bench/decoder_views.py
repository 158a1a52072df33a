"""What the `obfuscation` decoder reads into text: the views it hands back for rescanning, on
ordinary documents (each one a rescan by every rule of the layer, and a forward pass for a
learned tier) and on mutated attacks (a view missed is a disguise every rule reads as sent).

    .venv/bin/python bench/decoder_views.py [--files 3000] [--attacks 600]

Ordinary documents: the installed distributions' READMEs and source files of `bench/documents.py`.
Attacks: a seeded sample of ASCII attacks from the `injection` and `harmful-request` training
sources, each mutated by the evaluation's mutators as the guard reads them (the normaliser's
view, and the caller's own text where the normaliser changed it); a hit is a view of the kind
the mutation calls for.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from detectors import package_readmes
from documents import source_files
from swisscheese.evaluation.mutators import compose
from swisscheese.guard import decoder_inputs
from swisscheese.monitors._text import normalize
from swisscheese.monitors.obfuscation import ObfuscationConfig, ObfuscationMonitor
from swisscheese.training.sources import load_source

# Mutations and the decoding each calls for.
MUTATIONS = {
    "leetspeak": (("leetspeak",), "leetspeak"),
    "rot13": (("rot13",), "rot13"),
    "leetspeak+rot13": (("leetspeak", "rot13"), "rot13"),
    "homoglyphs+rot13": (("homoglyphs", "rot13"), "rot13"),
    "spacing+rot13": (("spacing", "rot13"), "rot13"),
    "spacing": (("spacing",), "spacing"),
    "payload-split": (("payload-split",), "concatenation"),
    "base64": (("base64",), "base64"),
    "caesar": (("caesar",), "caesar"),
    "upside-down": (("upside-down",), "upside-down"),
    "doubled": (("doubled",), "doubled"),
    "upside-down+rot13": (("upside-down", "rot13"), "rot13"),
    "typos": (("typos",), "misspelt"),
    "wide-spacing": (("wide-spacing",), "spacing"),
    "word-reversed": (("word-reversed",), "word-reversed"),
    "interleaved": (("interleaved",), "interleaved"),
}


def attack_sample(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    texts: list[str] = []
    for detector in ("injection", "harmful-request"):
        attacks = [
            e.text
            for e in load_source(detector, 0)
            if e.label == 1 and e.text.isascii() and len(e.text) < 3000
        ]
        texts += rng.sample(attacks, min(n, len(attacks)))
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--attacks", type=int, default=600, help="per detector")
    args = parser.parse_args()
    decoder = ObfuscationMonitor(ObfuscationConfig())

    def chains(text: str) -> set[tuple[str, ...]]:
        views = decoder_inputs(text, normalize(text))
        return {d.chain for v in views for d in decoder.decode(v.text)}

    def kinds(text: str) -> set[str]:
        return {kind for chain in chains(text) for kind in chain}

    print("ordinary documents: how many get a view of each kind (nested: outer>inner)")
    for name, texts in (("READMEs", package_readmes()), ("source files", source_files(args.files))):
        counts = Counter(">".join(chain) for text in texts for chain in chains(text))
        print(f"  {name:12} ({len(texts):5}) {dict(counts.most_common())}")
    attacks = attack_sample(args.attacks)
    print(f"mutated attacks ({len(attacks)}): how many get the view the mutation calls for")
    for name, (mutators, wanted) in MUTATIONS.items():
        rng = random.Random(1)
        hits = sum(wanted in kinds(compose(mutators, text, rng).text) for text in attacks)
        print(f"  {name:17} {hits:5} ({hits / len(attacks):.1%})")


if __name__ == "__main__":
    main()
