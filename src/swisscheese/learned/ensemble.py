"""One calibrated score from several tiers of a detector: a logistic stacker over the tiers'
calibrated log-odds.

The stacker was calibrated on scores each member gave to items it did not train on
(out-of-fold), so its score means what it says on unseen text, not on the members' training
data. The members are the tiers' own model files, named beside the stacker and pinned by
digest: a member retrained after the stacker was fitted is a start-up error, since its scores
no longer mean what the stacker assumes.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swisscheese.learned.model import MEMBER_TIERS, model_filename

__all__ = [
    "MEMBER_TIERS",
    "Ensemble",
    "check_tiers",
    "digest",
    "logit",
    "on_scale_of",
    "sigmoid",
]

SCHEMA = "swisscheese.ensemble/1"
_EPS = 1e-7


def check_tiers(tiers: tuple[str, ...]) -> None:
    """Raise ValueError unless ``tiers`` are two or more distinct member tiers."""
    if len(tiers) < 2 or len(set(tiers)) != len(tiers) or set(tiers) - set(MEMBER_TIERS):
        raise ValueError(
            f"an ensemble needs two or more distinct tiers of {', '.join(MEMBER_TIERS)}; "
            f"got {', '.join(tiers) or 'none'}"
        )


def logit(score: float) -> float:
    """A calibrated probability back to the log-odds it came from (clipped away from 0 and 1,
    where a float16 head saturates)."""
    p = min(max(score, _EPS), 1.0 - _EPS)
    return math.log(p / (1.0 - p))


def on_scale_of(score: float, own: Mapping[str, float], other: Mapping[str, float]) -> float:
    """``score``, from a model measured to flag 1% and 0.1% of benign text at the thresholds
    ``own``, moved onto the scale of a model measured at ``other``: at equal benign
    false-positive rate, so a rule's threshold keeps its meaning. In log-odds, linear between
    the two pairs of thresholds and shifted beyond them; unchanged without a pair in common."""
    pairs = sorted(
        (logit(own[key]), logit(other[key]))
        for key in ("fpr_1pct", "fpr_0_1pct")
        if key in own and key in other
    )
    if not pairs:
        return score
    x = logit(score)
    (x0, y0), (x1, y1) = pairs[0], pairs[-1]
    if x1 <= x0 or y1 < y0:
        # One pair, or two that do not rise together: a shift through the first.
        x1, y1 = x0, y0
    if x <= x0:
        y = y0 + (x - x0)
    elif x >= x1:
        y = y1 + (x - x1)
    else:
        y = y0 + (x - x0) * (y1 - y0) / (x1 - x0)
    return sigmoid(y)


def sigmoid(z: float) -> float:
    if z < -700:
        return 0.0
    return 1.0 / (1.0 + math.exp(-z))


def digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def check_pinned(owner: Path, pinned: Path, expected: str | None, what: str, after: str) -> None:
    """Raise ValueError unless ``pinned`` (``owner``'s ``what``) exists and is the file whose
    digest ``owner`` recorded; ``after`` says what was fitted on it and how to refit."""
    if not pinned.is_file():
        raise ValueError(f"{owner}: its {what} {pinned} is missing")
    if digest(pinned) != expected:
        raise ValueError(f"{owner}: its {what} {pinned.name} changed after {after}")


def write_model_json(path: Path, schema: str, body: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"schema": schema, **body}, indent=2) + "\n", encoding="utf-8")


def read_model_json(path: Path, schema: str) -> dict[str, Any]:
    body = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(body, dict) or body.get("schema") != schema:
        raise ValueError(f"{path}: not a {schema} file")
    return body


@dataclass(frozen=True)
class Ensemble:
    detector: str
    members: tuple[str, ...]
    """Tiers, in the order of ``weights``."""
    weights: tuple[float, ...]
    bias: float
    member_digests: dict[str, str]
    """Tier -> digest of the member model file the stacker was fitted for."""
    thresholds: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    other_languages: tuple[str, ...] = ()
    """Members that read languages other than English. On text not taken for English
    (``learned.language``) only they count, with the whole weight: the others' low scores
    there come from not reading the text. Empty: every member counts on every text."""

    def __post_init__(self) -> None:
        check_tiers(self.members)
        if len(self.weights) != len(self.members):
            raise ValueError(f"{len(self.weights)} weights for {len(self.members)} members")
        if any(not w >= 0.0 for w in self.weights):
            # A negative weight would let an attacker buy a pass by raising one tier's score.
            raise ValueError(f"member weights must be non-negative, got {list(self.weights)}")
        strangers = set(self.other_languages) - set(self.members)
        if strangers:
            raise ValueError(f"other_languages names tiers that are not members: {strangers}")
        if self.other_languages and not sum(self._readers().values()) > 0.0:
            raise ValueError("the members that read other languages have no weight")

    def _weights(self) -> dict[str, float]:
        return dict(zip(self.members, self.weights, strict=True))

    def _readers(self) -> dict[str, float]:
        return {m: w for m, w in self._weights().items() if m in self.other_languages}

    def score(
        self,
        member_scores: Mapping[str, float],
        *,
        english: bool = True,
        on_english_part: Mapping[str, float] | None = None,
    ) -> float:
        """The stacked probability from each member's calibrated score. ``english``: whether
        the text is taken for English (``learned.language``); if not, ``on_english_part``
        holds the other members' scores on its sentences in English, if it has any."""
        if english or not self.other_languages:
            return sigmoid(self._z(member_scores, self._weights()))
        readers = self._readers()
        # The blind members' weight goes to the readers, in proportion to theirs: the score
        # keeps its scale, so one threshold serves both kinds of text.
        scale = sum(self.weights) / sum(readers.values())
        z = self._z(member_scores, {m: w * scale for m, w in readers.items()})
        if on_english_part:
            # What the blind members read in the English sentences still counts: text in
            # another language added to an English order must not silence them.
            part = {**member_scores, **on_english_part}
            z = max(z, self._z(part, self._weights()))
        return sigmoid(z)

    def blind_members(self) -> tuple[str, ...]:
        """The members that read English only (none when no member reads other languages)."""
        if not self.other_languages:
            return ()
        return tuple(m for m in self.members if m not in self.other_languages)

    def _z(self, scores: Mapping[str, float], weights: Mapping[str, float]) -> float:
        return self.bias + sum(w * logit(scores[m]) for m, w in weights.items())

    def member_path(self, ensemble_path: Path, tier: str) -> Path:
        return ensemble_path.parent / model_filename(self.detector, tier)

    def check_members(self, ensemble_path: Path) -> None:
        """Raise ValueError unless every member file beside the stacker is the one it was
        fitted for."""
        for tier in self.members:
            check_pinned(
                ensemble_path,
                self.member_path(ensemble_path, tier),
                self.member_digests.get(tier),
                f"{tier} member",
                "the stacker was fitted (retrain the ensemble: swisscheese train "
                f"{self.detector} --tier ensemble)",
            )

    def save(self, path: Path) -> None:
        body = {
            "detector": self.detector,
            "members": list(self.members),
            "weights": list(self.weights),
            "bias": self.bias,
            "member_digests": self.member_digests,
            "thresholds": self.thresholds,
            "meta": self.meta,
        }
        if self.other_languages:
            body["other_languages"] = list(self.other_languages)
        write_model_json(path, SCHEMA, body)

    @classmethod
    def load(cls, path: Path) -> Ensemble:
        body = read_model_json(path, SCHEMA)
        return cls(
            detector=str(body["detector"]),
            members=tuple(str(m) for m in body["members"]),
            weights=tuple(float(w) for w in body["weights"]),
            bias=float(body["bias"]),
            member_digests={str(k): str(v) for k, v in body["member_digests"].items()},
            thresholds={str(k): float(v) for k, v in body.get("thresholds", {}).items()},
            meta=dict(body.get("meta", {})),
            other_languages=tuple(str(m) for m in body.get("other_languages", ())),
        )
