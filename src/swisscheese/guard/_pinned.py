"""Operators' own system prompts, pinned in the policy: recognised exactly (or as a template
with slots), so the input layer screens only what the application filled in.

Every character of a matched prompt is either the operator's fixed text, in the operator's
order, or a slot's value; the slots' values are what the monitors read, joined into one view,
and their findings are placed back in the prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from swisscheese.config import SLOT, SystemPrompt
from swisscheese.core import Content, Finding, Origin, Span, Stage, text_digest

PINNABLE_ROLES = frozenset({"system", "developer"})
SEPARATOR = "\n\n"  # between slot values in the screened view: no sentence runs across two


@dataclass(frozen=True, slots=True)
class PinMatch:
    """A system prompt recognised as a pin; ``slots`` are where its values lie in the text."""

    name: str
    slots: tuple[tuple[int, int], ...]

    def view(self, text: str) -> str:
        """What the monitors read: the slots' values, in order."""
        return SEPARATOR.join(text[start:end] for start, end in self.slots)

    def reason(self) -> str:
        if not self.slots:
            return f"pinned system prompt {self.name!r}: not screened"
        return f"pinned system prompt {self.name!r}: only its {len(self.slots)} slot(s) screened"

    def place(self, finding: Finding) -> Finding:
        """``finding``, made on the view, with its spans in the prompt."""
        spans = tuple(s for span in finding.spans for s in self._to_text(span))
        origin = finding.origin
        if origin is not None:
            pieces = self._to_text(origin.span)
            if pieces:
                origin = Origin(origin.chain, Span(pieces[0].start, pieces[-1].end))
        return replace(finding, spans=spans, origin=origin)

    def _to_text(self, span: Span) -> list[Span]:
        """The parts of a view span that lie in slot values, at their places in the text."""
        out: list[Span] = []
        at = 0  # where the current slot's value starts in the view
        for start, end in self.slots:
            size = end - start
            if span.start == span.end and at <= span.start <= at + size:
                return [Span(start + span.start - at, start + span.start - at)]
            lo, hi = max(span.start, at), min(span.end, at + size)
            if lo < hi:
                out.append(Span(start + lo - at, start + hi - at))
            at += size + len(SEPARATOR)
        return out


@dataclass(frozen=True, slots=True)
class _Template:
    name: str
    literals: tuple[str, ...]  # fixed text around the slots: one more than there are slots

    def match(self, text: str) -> PinMatch | None:
        """Slots take what lies between the fixed texts; each fixed text is placed leftmost
        after the previous one (which finds a match whenever one exists), in linear time."""
        first, *middle, last = self.literals
        if not text.startswith(first) or len(text) < len(first) + len(last):
            return None
        if not text.endswith(last):
            return None
        stop = len(text) - len(last)
        pos = len(first)
        slots: list[tuple[int, int]] = []
        for literal in middle:
            found = text.find(literal, pos, stop)
            if found < 0:
                return None
            slots.append((pos, found))
            pos = found + len(literal)
        slots.append((pos, stop))
        return PinMatch(self.name, tuple(slots))


class PinnedPrompts:
    """The policy's pinned system prompts, ready to recognise."""

    def __init__(self, pins: Sequence[SystemPrompt]) -> None:
        self._exact: dict[str, str] = {}
        self._templates: list[_Template] = []
        for pin in pins:
            if pin.template is not None:
                parts = SLOT.split(pin.template)
                self._templates.append(_Template(pin.name, tuple(parts[0::2])))
            else:
                key = pin.digest if pin.digest is not None else text_digest(pin.text or "")
                self._exact.setdefault(key, pin.name)

    def match(self, content: Content, text: str) -> PinMatch | None:
        """The pin ``text`` matches, if ``content`` is a system or developer message of the
        input stage (nowhere else is an operator's prompt expected)."""
        if content.stage is not Stage.INPUT or content.role not in PINNABLE_ROLES:
            return None
        if self._exact:  # no digest to compute without exact pins
            name = self._exact.get(text_digest(text))
            if name is not None:
                return PinMatch(name, ())
        for template in self._templates:
            found = template.match(text)
            if found is not None:
                return found
        return None
