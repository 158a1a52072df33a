"""The registry: models, deployments and their safety configurations, read from what was
recorded, with diffs between policy versions and exports as CycloneDX 1.6 and SPDX 3.

Nothing here is entered by hand: a deployment is what a gateway registered (model, policy,
state); its policy versions are the ``policy`` events its gateways recorded (the whole policy is
each event's payload); its framework and safety case are the latest ``framework_decision`` and
``safety_case`` events; a model is what ``model_signed`` and ``model_check`` events say about it
(fingerprint, signature, parent). So the registry cannot drift from the log.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from swisscheese.common.files import file_sha256
from swisscheese.store import AccessStore, LogStore

__all__ = [
    "DeploymentEntry",
    "ModelEntry",
    "PolicyVersion",
    "Registry",
    "cyclonedx_json",
    "read_registry",
    "shipped_detectors",
]


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    digest: str
    record: int
    time: str
    source: str | None
    policy: dict[str, Any] | None
    """The policy as recorded (None when its payload was erased)."""

    def text(self) -> str:
        if self.policy is None:
            return f"# policy {self.digest}: its recorded payload was erased\n"
        return yaml.safe_dump(self.policy, sort_keys=False, allow_unicode=True)


@dataclass(frozen=True, slots=True)
class ModelEntry:
    name: str
    fingerprint: str | None
    subject: str | None
    """The signed files' digest (model-signing's subject)."""
    signed_by: str | None
    parent: str | None
    checks: tuple[str, ...]
    """Outcomes of the gateways' checks (``verified``, ``refused``), oldest first."""


@dataclass
class DeploymentEntry:
    name: str
    halted: bool
    reason: str
    model: str | None
    policy: str | None
    served_at: str | None
    versions: list[PolicyVersion] = field(default_factory=list)
    framework: dict[str, Any] | None = None
    case: dict[str, Any] | None = None

    def diff(self, old: int = -2, new: int = -1) -> str:
        """A unified diff between two of its policy versions (default: the last two)."""
        if len(self.versions) < 2:
            return ""
        a, b = self.versions[old], self.versions[new]
        return "".join(
            difflib.unified_diff(
                a.text().splitlines(keepends=True),
                b.text().splitlines(keepends=True),
                f"{a.digest} (entry {a.record})",
                f"{b.digest} (entry {b.record})",
            )
        )


@dataclass
class Registry:
    deployments: dict[str, DeploymentEntry]
    models: dict[str, ModelEntry]

    def to_dict(self) -> dict[str, Any]:
        return {
            "deployments": [
                {
                    "name": d.name,
                    "state": "halted" if d.halted else "serving",
                    "reason": d.reason,
                    "model": d.model,
                    "policy": d.policy,
                    "served_at": d.served_at,
                    "framework": d.framework,
                    "safety_case": d.case,
                    "policy_versions": [
                        {"digest": v.digest, "record": v.record, "time": v.time, "source": v.source}
                        for v in d.versions
                    ],
                }
                for d in self.deployments.values()
            ],
            "models": [asdict(m) | {"checks": list(m.checks)} for m in self.models.values()],
        }


def _events(log: LogStore, kind: str) -> Iterable[tuple[int, dict[str, Any], str | None]]:
    for entry in log.entries_of_type(kind):
        yield entry.index, json.loads(entry.event), entry.payload_digest


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def read_registry(log: LogStore, access: AccessStore) -> Registry:
    deployments = {
        d.name: DeploymentEntry(
            d.name, d.halted, d.reason, d.model, d.policy_digest, _iso(d.served_at)
        )
        for d in access.deployments()
    }
    for index, event, digest in _events(log, "policy"):
        entry = deployments.get(str(event.get("deployment")))
        if entry is None:
            continue
        if entry.versions and entry.versions[-1].digest == event["policy"]:
            continue  # a restart with the same policy is not a new version
        data = log.payload(digest) if digest else None
        entry.versions.append(
            PolicyVersion(
                event["policy"],
                index,
                str(event.get("time")),
                event.get("source"),
                json.loads(data) if data else None,
            )
        )
    for kind, attr, keys in (
        ("framework_decision", "framework", ("framework", "digest", "decision", "by")),
        ("safety_case", "case", ("case", "digest", "status", "by")),
    ):
        for index, event, _ in _events(log, kind):
            entry = deployments.get(str(event.get("deployment")))
            if entry is not None:
                setattr(entry, attr, {k: event.get(k) for k in keys} | {"record": index})
    models: dict[str, dict[str, Any]] = {}
    for _, event, _ in _events(log, "model_signed"):
        found = models.setdefault(event["model"], {"checks": []})
        found.update(
            fingerprint=event["fingerprint"],
            subject=event["subject"],
            signed_by=event["key"],
            parent=event.get("parent"),
        )
    for _, event, _ in _events(log, "model_check"):
        found = models.setdefault(event["model"], {"checks": []})
        found["checks"].append(event["outcome"])
        if event.get("fingerprint"):
            found.setdefault("fingerprint", event["fingerprint"])
    for d in deployments.values():
        if d.model:
            models.setdefault(d.model, {"checks": []})
    return Registry(
        deployments,
        {
            name: ModelEntry(
                name,
                m.get("fingerprint"),
                m.get("subject"),
                m.get("signed_by"),
                m.get("parent"),
                tuple(m["checks"]),
            )
            for name, m in sorted(models.items())
        },
    )


def _hex(value: str | None) -> str | None:
    """The hex of a ``sha256:...`` digest, if it is one."""
    if value and value.startswith("sha256:") and len(value) == 71:
        return value.removeprefix("sha256:")
    return None


def shipped_detectors() -> list[tuple[str, Path]]:
    """The learned detectors' weight files that ship in the package."""
    from importlib import resources

    root = Path(str(resources.files("swisscheese.monitors").joinpath("models")))
    return [(p.stem, p) for p in sorted(root.glob("*.npz"))]


def cyclonedx_json(registry: Registry, detectors: Sequence[tuple[str, Path]], version: str) -> str:
    """An ML-BOM (CycloneDX 1.6 JSON): swisscheese, each deployment (an application with its
    policy, framework and case as properties), each model and each shipped detector (machine-
    learning-model components with SHA-256 hashes), and what depends on what. Validated with
    the library's strict JSON validator before it is returned."""
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.json import JsonV1Dot6
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    bom = Bom()
    tool = Component(name="swisscheese", version=version, type=ComponentType.APPLICATION,
                     bom_ref="swisscheese")  # fmt: skip
    bom.metadata.component = tool
    model_refs: dict[str, Component] = {}
    for m in registry.models.values():
        props = [Property(name="swisscheese:checks", value=",".join(m.checks) or "none")]
        if m.fingerprint:
            props.append(Property(name="swisscheese:tensor-fingerprint", value=m.fingerprint))
        if m.signed_by:
            props.append(Property(name="swisscheese:signing-key", value=m.signed_by))
        if m.parent:
            props.append(Property(name="swisscheese:parent-fingerprint", value=m.parent))
        subject = _hex(m.subject)
        component = Component(
            name=m.name,
            type=ComponentType.MACHINE_LEARNING_MODEL,
            bom_ref=f"model:{m.name}",
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=subject)] if subject else [],
            properties=props,
        )
        model_refs[m.name] = component
        bom.components.add(component)
    detector_refs = []
    for name, path in detectors:
        component = Component(
            name=name,
            type=ComponentType.MACHINE_LEARNING_MODEL,
            bom_ref=f"detector:{name}",
            version=version,
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=file_sha256(path))],
            properties=[Property(name="swisscheese:file", value=path.name)],
        )
        detector_refs.append(component)
        bom.components.add(component)
    bom.register_dependency(tool, detector_refs)
    for d in registry.deployments.values():
        props = [
            Property(name="swisscheese:state", value="halted" if d.halted else "serving"),
            Property(name="swisscheese:policy", value=d.policy or "unknown"),
            Property(name="swisscheese:policy-versions", value=str(len(d.versions))),
        ]
        if d.framework:
            value = f"{d.framework['framework']} {d.framework['decision']}"
            props.append(Property(name="swisscheese:framework", value=value))
        if d.case:
            props.append(
                Property(
                    name="swisscheese:safety-case", value=f"{d.case['case']} {d.case['status']}"
                )
            )
        component = Component(
            name=d.name,
            type=ComponentType.APPLICATION,
            bom_ref=f"deployment:{d.name}",
            properties=props,
        )
        bom.components.add(component)
        depends = [tool] + ([model_refs[d.model]] if d.model in model_refs else [])
        bom.register_dependency(component, depends)
    text = JsonV1Dot6(bom).output_as_string(indent=2)
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    if error is not None:
        raise ValueError(f"the CycloneDX document does not validate: {error}")
    return text
