"""The policy file: typed, validated, and digested canonically."""

from __future__ import annotations

import re
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from swisscheese.core import Action, Stage, digest
from swisscheese.core.taxonomy import is_known

# Fail closed where a miss lets an attack in; flag where the content is already produced and
# only a human can judge (reasoning traces, training corpora).
DEFAULT_ON_ERROR: dict[Stage, Action] = {
    Stage.INPUT: Action.BLOCK,
    Stage.RETRIEVED: Action.BLOCK,
    Stage.TOOL_CALL: Action.BLOCK,
    Stage.OUTPUT: Action.BLOCK,
    Stage.REASONING: Action.FLAG,
    Stage.CORPUS: Action.FLAG,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class FprThreshold(_Strict):
    target_fpr: float = Field(gt=0.0, lt=1.0)
    """Pick the score at which the monitor's calibration shows this false-positive rate."""


class Rule(_Strict):
    monitor: str = Field(min_length=1)
    """Registered monitor name (``swisscheese monitors`` lists them)."""
    action: Action = Action.FLAG
    """What happens when the rule fires."""
    threshold: float | FprThreshold = 0.5
    """A finding fires the rule when its score is at least this (or a calibrated FPR)."""
    categories: tuple[str, ...] = ()
    """Only findings in these taxonomy categories (or nested under them); empty: all."""
    stages: tuple[Stage, ...] = ()
    """Only at these stages of the layer; empty: all of the layer's stages."""
    in_operator_text: bool = True
    """Whether the rule reads the operator's own text: system and developer messages, and the
    tool and response-schema definitions read at the retrieved stage. A detector trained on
    fetched documents reads an operator's instructions to the model as injected ones."""
    sources: tuple[str, ...] = ()
    """Retrieved content only from these sources: shell-style patterns (``fetch_*``,
    ``search``) matched against the name of the tool a result came from, as the request or
    the MCP server gives it; empty: every source."""
    not_sources: tuple[str, ...] = ()
    """Retrieved content from any source but these (same patterns): e.g. a blocking rule that
    leaves a coding agent's file reads to a flagging one. A text with no source is read."""
    in_code: bool = True
    """Whether the rule reads retrieved text that is mostly source code (``core.source_code``):
    false leaves code, where prompts for an assistant are ordinary, to the layer's other rules.
    Whoever writes a whole document can make it code, so pair it with ``sources`` that name
    the tools reading the operator's own files, or keep a rule that reads code too."""
    only_disguised: bool = False
    """Whether the rule reads only what the layer's decoder uncovered under a disguise (base64,
    ROT13, leetspeak, letters spread out or upside down, ...), not the text as written nor the
    plain readings of its parts (a JSON result's strings, a page's text, a chat's last turn).
    Someone hid that text from the reader: uncovered, a lower score is enough to act on. The
    layer needs an ``obfuscation`` rule, which does the decoding."""
    config: dict[str, Any] = Field(default_factory=dict)
    """The monitor's own settings (validated against its config schema)."""
    timeout_ms: float | None = Field(default=None, gt=0)
    """Deadline for this monitor; default: the layer's."""
    on_error: Action | None = None
    """Action when this monitor errors or times out; default: the layer's."""

    @field_validator("threshold")
    @classmethod
    def _score_range(cls, v: float | FprThreshold) -> float | FprThreshold:
        if isinstance(v, float) and not 0.0 <= v <= 1.0:
            raise ValueError("a score threshold lies in [0, 1]")
        return v

    @field_validator("sources", "not_sources")
    @classmethod
    def _patterns(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if any(not p.strip() for p in v):
            raise ValueError("a source pattern is a non-empty tool name or pattern")
        return v

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in v if not is_known(c)]
        if unknown:
            raise ValueError(f"unknown categories {unknown} (see swisscheese.core.taxonomy)")
        return v


class Layer(_Strict):
    stages: tuple[Stage, ...] = ()
    """Stages this layer screens; default: the stage named by the layer's key."""
    on_error: Action | None = None
    """Action when a monitor errors or times out (default: block, flag for reasoning/corpus)."""
    timeout_ms: float = Field(default=1000.0, gt=0)
    """Default per-monitor deadline."""
    refusal: str = "I can't help with that request."
    """Message a gateway returns in place of blocked content."""
    approval_timeout: float = Field(default=0.0, ge=0.0, le=3600.0)
    """Seconds an ESCALATE verdict waits for a human approval; 0 treats it as a block."""
    stream_mode: Literal["buffer", "window"] = "buffer"
    """Streamed answers: ``buffer`` holds everything until the whole answer passed; ``window``
    releases text once the next ``stream_window`` characters after it have been checked."""
    stream_window: int = Field(default=256, ge=16, le=65536)
    """Characters held back and checked ahead of what is released, in ``window`` mode."""
    rules: tuple[Rule, ...] = Field(min_length=1)
    """Rules in order; a MODIFY rule's replacement is what the rules after it read."""


class ModelRequirement(_Strict):
    """What the gateway demands of the local model it serves (``serve --upstream local...``)."""

    require_signature: bool = True
    """Refuse to start unless the model's signature verifies (the refusal is recorded)."""
    public_key: str = Field(min_length=1)
    """PEM public key of the model signer (`swisscheese keys init-model` prints it)."""
    signature: str | None = None
    """The signature file (default: model.sig in the model's directory, FILE.sig beside a
    file)."""


class WatermarkPolicy(_Strict):
    """A keyed watermark the local model applies while it samples (``swisscheese watermark``)."""

    scheme: Literal["kgw", "synthid"] = "kgw"
    """kgw: green-list logit bias; synthid: tournament sampling."""
    key: str = ".swisscheese/watermark.key"
    """The key file (`swisscheese keys init-watermark`)."""
    context: int = Field(default=4, ge=1, le=16)
    gamma: float = Field(default=0.25, gt=0.0, lt=1.0)
    delta: float = Field(default=3.0, gt=0.0, le=20.0)
    layers: int = Field(default=16, ge=1, le=64)


SLOT = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class SystemPrompt(_Strict):
    """An operator's own system prompt, pinned: a system or developer message that is exactly
    this text (or this template, its slots filled) is not screened as user input; only what
    fills the slots is. Give exactly one of ``text``, ``template`` and ``digest``."""

    name: str = Field(min_length=1)
    """Shown in verdicts that the pin allowed."""
    text: str | None = Field(default=None, min_length=1)
    """The prompt, exactly as the application sends it."""
    template: str | None = Field(default=None, min_length=1)
    """The prompt with ``{{slot}}`` placeholders for what the application fills in per request
    (a user's name, a date, retrieved notes): the slots' values are screened, the rest not."""
    digest: str | None = Field(default=None, pattern=r"^sha256:[0-9a-f]{64}$")
    """``sha256:`` of the prompt's UTF-8 bytes, to keep its text out of the policy file."""

    @model_validator(mode="after")
    def _one_form(self) -> SystemPrompt:
        given = [k for k in ("text", "template", "digest") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of text, template and digest")
        if self.template is not None:
            slots = SLOT.findall(self.template)
            if not slots:
                raise ValueError("a template needs at least one {{slot}}; pin it as text")
            if any(not literal for literal in SLOT.split(self.template)[2:-1:2]):
                raise ValueError("two slots must be separated by some fixed text")
        return self


class Policy(_Strict):
    version: Literal[1]
    """Schema version of this file."""
    deployment: str = Field(min_length=1)
    """Name of the deployment this policy protects."""
    unconfigured: Action = Action.LOG
    """Action for a stage that no layer screens (recorded as unscreened, never as a pass)."""
    layers: dict[str, Layer] = Field(min_length=1)
    """Layers by name; a layer named after a stage screens that stage."""
    model: ModelRequirement | None = None
    """Requirements on the served local model (signature)."""
    watermark: WatermarkPolicy | None = None
    """Watermark the local model's answers."""
    system_prompts: tuple[SystemPrompt, ...] = ()
    """The operator's own system prompts, which the input layer does not screen."""

    @model_validator(mode="after")
    def _resolve_stages(self) -> Policy:
        seen: dict[Stage, str] = {}
        resolved: dict[str, Layer] = {}
        for name, layer in self.layers.items():
            stages = layer.stages
            if not stages:
                try:
                    stages = (Stage(name),)
                except ValueError:
                    raise ValueError(
                        f"layer {name!r} is not a stage name; give it 'stages: [...]'"
                    ) from None
            for stage in stages:
                if stage in seen:
                    raise ValueError(
                        f"stage {stage.value!r} is screened by both {seen[stage]!r} and {name!r}"
                    )
                seen[stage] = name
            for i, rule in enumerate(layer.rules):
                extra = set(rule.stages) - set(stages)
                if extra:
                    raise ValueError(
                        f"rule {i} of layer {name!r} names stages {sorted(extra)} "
                        f"outside the layer's {[s.value for s in stages]}"
                    )
                retrieved = Stage.RETRIEVED in (rule.stages or stages)
                if (rule.sources or rule.not_sources) and not retrieved:
                    # Only retrieved content has a source: the rule would never read anything.
                    raise ValueError(
                        f"rule {i} of layer {name!r} selects sources, which only retrieved "
                        "content has; put it in the layer that screens the retrieved stage"
                    )
                if not rule.in_code and not retrieved:
                    # Elsewhere the sender writes the whole text: skipping code would let
                    # anyone through who dresses a request as code.
                    raise ValueError(
                        f"rule {i} of layer {name!r} skips source code, which it may only do "
                        "for retrieved content; put it in the layer that screens that stage"
                    )
            on_error = layer.on_error or DEFAULT_ON_ERROR[stages[0]]
            resolved[name] = layer.model_copy(update={"stages": stages, "on_error": on_error})
        object.__setattr__(self, "layers", resolved)
        return self

    def layer_for(self, stage: Stage) -> tuple[str, Layer] | None:
        for name, layer in self.layers.items():
            if stage in layer.stages:
                return name, layer
        return None

    @cached_property
    def digest(self) -> str:
        """``sha256:`` of the RFC 8785 canonical JSON of the effective policy."""
        data = self.model_dump(mode="json")
        for optional in ("model", "watermark"):
            if data.get(optional) is None:
                del data[optional]  # policies without it keep the digests they always had
        if not data.get("system_prompts"):
            del data["system_prompts"]
        for layer in data["layers"].values():
            for rule in layer["rules"]:
                for optional in ("sources", "not_sources"):
                    if not rule[optional]:
                        del rule[optional]
                if rule["in_code"]:
                    del rule["in_code"]
                if not rule["only_disguised"]:
                    del rule["only_disguised"]
        return digest(data)
