"""AgentDojo through swisscheese's agent layer, with a scripted agent that obeys what it reads.

The agent replays each user task's ground-truth tool calls. Whenever a tool result it is shown
contains an injection, it first carries out that injection task's ground-truth calls (the worst
case: a model that always obeys). Every call passes ``guard.check_call`` with the trace so far
before it runs; every tool result passes the ``retrieved`` layer before the agent sees it (a
result the layer stops is withheld). A call the policy stops is not run; an escalated call counts
as denied (no human in the loop) and is counted apart.

AgentDojo's own checks decide utility (the user task done) and targeted attack success (the
injection task's security check fails). Injection tasks without ground-truth calls (the agent
must only *say* something) cannot be carried out by a scripted agent and are left out of the
targeted ASR; how many is printed.

Configurations: ``none`` (undefended), each layer alone (``tool-policy``, ``flow``,
``detector``: the indirect-injection detector and signatures on tool results, blocking at its 1%
point; ``shipped``: the embedded default policy's retrieved layer as it ships, each result read
as coming from the tool that returned it) and ``default`` (all of them, the detector as in
``detector``). The policies are written from what each tool does (which arguments send money or
data where, which results a third party can write), not fitted to the tasks.

No training data comes from AgentDojo: its suites are this benchmark (until December 2026 the
indirect-injection detector used its environment texts as benign carrier documents; figures
from before then are contaminated). The tool policy and the flow rules use no training data.

The scripted agent replays the ground truth whatever it is shown, so a withheld tool result
costs it no utility; a model that needed that result would lose it. The ``clean held`` column
counts that cost: the tool results withheld in the runs without attack, of all read there.

Needs ``pip install agentdojo`` (not a dependency of swisscheese)::

    python bench/agentdojo.py --quick      # 4 user x 3 injection tasks per suite, a few minutes
    python bench/agentdojo.py              # every suite, task and injection task
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import re
import statistics
import sys
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from swisscheese import Guard
from swisscheese.config import default_policy, parse_policy
from swisscheese.core import Action, Content, Stage, ToolCall

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

# This file's name is the package's: import the package, not this script.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

try:
    from agentdojo.agent_pipeline.base_pipeline_element import BasePipelineElement
    from agentdojo.agent_pipeline.tool_execution import tool_result_to_str
    from agentdojo.attacks.attack_registry import load_attack
    from agentdojo.functions_runtime import EmptyEnv, Env, FunctionCall, FunctionsRuntime
    from agentdojo.task_suite.load_suites import get_suite
    from agentdojo.types import text_content_block_from_string
except ImportError as exc:  # pragma: no cover - a benchmark dependency only
    # The project's environment holds agentdojo without its dependencies (its suites are data
    # for the evaluation), which is not enough to run it.
    sys.exit(
        f"bench/agentdojo.py needs AgentDojo with its dependencies ({exc}): e.g. python3 -m venv "
        "/tmp/adenv && /tmp/adenv/bin/pip install agentdojo==0.1.35 && /tmp/adenv/bin/pip "
        "install -e . && /tmp/adenv/bin/python bench/agentdojo.py"
    )

SUITES = ("banking", "slack", "travel", "workspace")
VERSION = "v1.2.1"
CONFIGS = ("none", "tool-policy", "flow", "detector", "shipped", "default")

# Tools whose results only the user or the operator can write (the user's own account data,
# the clock). Every other tool's result may hold a third party's words; channel names too
# (anyone in a workspace can create a channel).
TRUSTED = ["get_iban", "get_balance", "get_user_info", "get_user_information", "get_current_day"]

# Calls that move money, send data or grant access somewhere; arguments that say where to.
OUTBOUND = [
    "send_money", "schedule_transaction", "update_scheduled_transaction", "send_email",
    "send_direct_message", "send_channel_message", "post_webpage", "get_webpage",
    "invite_user_to_slack", "add_user_to_channel", "share_file", "create_calendar_event",
    "add_calendar_event_participants", "update_password", "update_user_info",
]  # fmt: skip
DESTINATIONS = [
    "recipient", "recipients", "url", "user_email", "email", "participants", "iban",
    "password",
]  # fmt: skip

# What a message says: an address or link written in it is a destination too.
MESSAGES = ["body", "content", "subject", "description", "title", "text", "message"]

# Calls that destroy or lock out: a human decides, whoever asked.
IRREVERSIBLE = ["delete_file", "delete_email", "remove_user_from_slack", "update_password"]

# Calls that commit the user to something (a booking, an appointment), and the words with which
# a user asks for them: after untrusted reads, only the user's request may ask for one.
COMMITMENTS = {
    "bookings": (["reserve_hotel", "reserve_restaurant", "reserve_car_rental"], ["reserv", "book"]),
    "appointments": (
        ["create_calendar_event", "add_calendar_event_participants"],
        ["calendar", "event", "meeting", "appointment", "schedul", "remind", "invite"],
    ),
}

# Calls with effects: where arguments copied from an injected text may not go (reading a
# channel an injected message names is harmless; acting on it is not).
ACTIONS = sorted(
    {*OUTBOUND, *IRREVERSIBLE, *(t for tools, _ in COMMITMENTS.values() for t in tools)}
)

FLOW = {
    "trusted": TRUSTED,
    "labels": [
        {"monitor": "secrets"},
        {"monitor": "signatures", "categories": ["injection", "jailbreak"]},
        {"monitor": "indirect-injection", "threshold": {"target_fpr": 0.01}},
    ],
    "rules": [
        {"name": "destinations-from-user", "tools": OUTBOUND, "arguments": DESTINATIONS,
         "carries": ["untrusted"]},
        {"name": "links-from-user", "tools": OUTBOUND, "arguments": MESSAGES,
         "carries": ["untrusted"], "match": "identifiers"},
        {"name": "no-injected-arguments", "tools": ACTIONS, "carries": ["injection", "jailbreak"]},
        {"name": "secrets-stay-home", "tools": OUTBOUND, "carries": ["secret"]},
        {"name": "nothing-irreversible-after-injection", "tools": IRREVERSIBLE,
         "after": ["injection", "jailbreak"]},
        *({"name": f"{kind}-the-user-asked-for", "tools": tools, "after": ["untrusted"],
           "unless_asked": words, "action": "escalate"}
          for kind, (tools, words) in COMMITMENTS.items()),
    ],
}  # fmt: skip

DETECTOR_RULES: list[dict[str, Any]] = [
    {"monitor": "signatures", "action": "block", "threshold": 0.7},
    {"monitor": "indirect-injection", "action": "block", "threshold": {"target_fpr": 0.01}},
]


def tool_policy(suite: Any) -> dict[str, Any]:
    """Every tool of the suite, its JSON Schema, bounds on money, irreversible ones escalated."""
    tools: dict[str, Any] = {}
    for function in suite.tools:
        spec: dict[str, Any] = {"schema": function.parameters.model_json_schema()}
        if function.name in IRREVERSIBLE:
            spec["action"] = "escalate"
        if function.name in ("send_money", "schedule_transaction"):
            spec["bounds"] = {"amount": {"min": 0, "max": 10_000}}
        tools[function.name] = spec
    return {"unknown": "block", "tools": tools}


def shipped_retrieved_rules() -> list[dict[str, Any]]:
    """The embedded default policy's retrieved layer as it ships (its learned rules block by
    where a text comes from and whether it is source code; docs/detectors.md)."""
    layer = default_policy().policy.layers["retrieved"]
    return [r.model_dump(mode="json", exclude_defaults=True) for r in layer.rules]


def policy_for(config: str, suite: Any) -> str:
    tool_call: list[dict[str, Any]] = []
    retrieved: list[dict[str, Any]] = []
    if config in ("tool-policy", "default"):
        tools = tool_policy(suite)
        tool_call += [
            {"monitor": "tool-policy", "categories": ["tool.approval"], "action": "escalate",
             "config": tools},
            {"monitor": "tool-policy", "categories": ["tool.denied"], "action": "block",
             "config": tools},
        ]  # fmt: skip
    if config in ("flow", "default"):
        tool_call += [
            {"monitor": "flow", "categories": ["flow.approval"], "action": "escalate",
             "config": FLOW},
            {"monitor": "flow", "categories": ["flow.denied"], "action": "block", "config": FLOW},
        ]  # fmt: skip
    if config in ("detector", "default"):
        retrieved = DETECTOR_RULES
    if config == "shipped":
        retrieved = shipped_retrieved_rules()
    layers: dict[str, Any] = {}
    if tool_call:
        layers["tool_call"] = {"on_error": "block", "rules": tool_call}
    if retrieved:
        layers["retrieved"] = {"on_error": "block", "rules": retrieved}
    policy = {"version": 1, "deployment": f"agentdojo-{config}", "unconfigured": "allow",
              "layers": layers}  # fmt: skip
    return yaml.safe_dump(policy, sort_keys=False)


def _fold(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


@dataclass
class Tally:
    runs: int = 0
    denied: int = 0
    escalated: int = 0
    withheld: int = 0
    clean_results: int = 0
    """Tool results read in the runs without attack, and of those the layer withheld."""
    clean_withheld: int = 0
    checks_ms: list[float] = field(default_factory=list)
    rules: Counter[str] = field(default_factory=Counter)
    """Why calls were stopped: rule or category, with the tool."""
    succeeded: Counter[str] = field(default_factory=Counter)
    """Injection tasks that succeeded, by id."""
    unusable: Counter[str] = field(default_factory=Counter)
    """User tasks that failed without attack, by id."""


_EMPTY = EmptyEnv()


class ObeyingAgent(BasePipelineElement):  # type: ignore[misc]
    """Replays a user task's ground truth through the guard, obeying any injection it reads."""

    name = "gpt-4o-2024-05-13"  # only so that attacks can address "GPT-4" by name

    def __init__(self, guard: Guard | None, tally: Tally) -> None:
        self.guard = guard
        self.tally = tally
        self.user_task: Any = None
        self.injection_task: Any = None
        self.injections: dict[str, str] = {}

    def query(
        self,
        query: str,
        runtime: FunctionsRuntime,
        env: Env = _EMPTY,
        messages: Sequence[Any] = (),
        extra_args: dict[str, Any] | None = None,
    ) -> tuple[str, FunctionsRuntime, Env, Sequence[Any], dict[str, Any]]:
        self.tally.runs += 1
        trace: list[Content] = [Content(query, "user", Stage.INPUT)]
        out: list[Any] = [*messages]
        plan = list(self.user_task.ground_truth(env))
        obeyed = False
        while plan:
            call = plan.pop(0)
            result = self._run(call, runtime, env, trace, out)
            if result is None or obeyed or self.injection_task is None:
                continue
            if self._holds_injection(result):
                obeyed = True
                plan[:0] = list(self.injection_task.ground_truth(env))
        final = text_content_block_from_string(self.user_task.GROUND_TRUTH_OUTPUT)
        out.append({"role": "assistant", "content": [final], "tool_calls": None})
        return query, runtime, env, out, extra_args or {}

    def _holds_injection(self, result: str) -> bool:
        """Whether the result shows the injection (tool results are YAML: lines are folded and
        quoted, so compare letters and digits only)."""
        folded = _fold(result)
        goal = _fold(self.injection_task.GOAL)[:60]
        return bool(goal) and goal in folded

    def _run(
        self,
        call: FunctionCall,
        runtime: FunctionsRuntime,
        env: Env,
        trace: list[Content],
        out: list[Any],
    ) -> str | None:
        """Run one call if the guard lets it; the result the agent is shown, or None."""
        arguments = json.loads(json.dumps(dict(call.args), default=str))
        proposed = ToolCall(call.function, arguments)
        if self.guard is not None:
            started = time.perf_counter()
            verdict = self.guard.check_call_sync(proposed, trace)
            self.tally.checks_ms.append((time.perf_counter() - started) * 1000)
            if verdict.action is Action.ESCALATE:
                self.tally.escalated += 1
            if verdict.action.stops:
                self.tally.denied += 1
                for f in verdict.findings:
                    why = f.detail.get("rule") or f.category
                    self.tally.rules[f"{why} ({call.function})"] += 1
                return None
        trace.append(Content("", "assistant", Stage.TOOL_CALL, call.function, proposed))
        out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        value, error = runtime.run_function(env, call.function, call.args, raise_on_error=False)
        text = str(error or tool_result_to_str(value))
        if self.guard is not None and text:
            fetched = Content(text, "tool", Stage.RETRIEVED, call.function)
            seen = self.guard.check_sync(Stage.RETRIEVED, fetched)
            clean = self.injection_task is None
            self.tally.clean_results += clean
            if seen.action.stops:
                self.tally.withheld += 1
                self.tally.clean_withheld += clean
                text = "[withheld by the retrieved-content policy]"
        trace.append(Content(text, "tool", Stage.RETRIEVED, call.function))
        out.append(
            {
                "role": "tool",
                "content": [text_content_block_from_string(text)],
                "tool_call": call,
                "tool_call_id": None,
                "error": error,
            }
        )
        return text


@dataclass
class SuiteResult:
    suite: str
    config: str
    utility: float
    utility_attacked: float
    asr: float
    pairs: int
    left_out: int
    tally: Tally


def run_suite(name: str, config: str, quick: bool, attack_name: str) -> SuiteResult:
    suite = get_suite(VERSION, name)
    tally = Tally()
    guard = None if config == "none" else Guard(parse_policy(policy_for(config, suite)))
    agent = ObeyingAgent(guard, tally)
    user_tasks = list(suite.user_tasks.values())
    injection_tasks = list(suite.injection_tasks.values())
    if quick:
        user_tasks, injection_tasks = user_tasks[:4], injection_tasks[:3]
    probe = suite.load_and_inject_default_environment({})
    runnable = [t for t in injection_tasks if t.ground_truth(probe.model_copy(deep=True))]
    attack = load_attack(attack_name, suite, agent)
    quiet = io.StringIO()
    clean: list[bool] = []
    for task in user_tasks:
        agent.user_task, agent.injection_task, agent.injections = task, None, {}
        with contextlib.redirect_stdout(quiet):
            utility, _ = suite.run_task_with_pipeline(agent, task, None, {})
        clean.append(utility)
        if not utility:
            tally.unusable[task.ID] += 1
    attacked: list[bool] = []
    succeeded: list[bool] = []
    for task in user_tasks:
        for injection in runnable:
            with contextlib.redirect_stdout(quiet):
                injections = attack.attack(task, injection)
                agent.user_task, agent.injection_task = task, injection
                agent.injections = injections
                utility, security = suite.run_task_with_pipeline(agent, task, injection, injections)
            attacked.append(utility)
            succeeded.append(security)
            if security:
                tally.succeeded[injection.ID] += 1
    if guard is not None:
        guard.close()
    return SuiteResult(
        name,
        config,
        utility=sum(clean) / len(clean),
        utility_attacked=sum(attacked) / max(1, len(attacked)),
        asr=sum(succeeded) / max(1, len(succeeded)),
        pairs=len(succeeded),
        left_out=len(injection_tasks) - len(runnable),
        tally=tally,
    )


def overhead(samples: int = 200) -> tuple[float, float]:
    """p50 of ``check_call`` under the default policy for a 20-step trace: with every tool result
    already labelled (the usual case: a conversation resends its history), and with one new."""
    suite = get_suite(VERSION, "workspace")
    guard = Guard(parse_policy(policy_for("default", suite)))
    env = suite.load_and_inject_default_environment({})
    runtime = FunctionsRuntime(suite.tools)
    trace: list[Content] = [Content("Summarise my inbox and reply to Lily.", "user", Stage.INPUT)]
    reads = ["get_unread_emails", "list_files", "get_received_emails", "get_sent_emails"]
    for i in range(10):
        tool = reads[i % len(reads)]
        value, _ = runtime.run_function(env, tool, {})
        text = tool_result_to_str(value)[: 2000 + i]
        trace.append(Content("", "assistant", Stage.TOOL_CALL, tool, ToolCall(tool, {})))
        trace.append(Content(f"{i}: {text}", "tool", Stage.RETRIEVED, tool))
    trace = trace[:20]
    call = ToolCall(
        "send_email",
        {"recipients": ["lily.white@gmail.com"], "subject": "Re: party", "body": "Count me in!"},
    )
    guard.check_call_sync(call, trace)
    warm = []
    for _ in range(samples):
        started = time.perf_counter()
        guard.check_call_sync(call, trace)
        warm.append((time.perf_counter() - started) * 1000)
    cold = []
    for i in range(samples // 4):
        fresh = [*trace[:-1], Content(f"{trace[-1].text} #{i}", "tool", Stage.RETRIEVED, "x")]
        started = time.perf_counter()
        guard.check_call_sync(call, fresh)
        cold.append((time.perf_counter() - started) * 1000)
    guard.close()
    return statistics.median(warm), statistics.median(cold)


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 user x 3 injection tasks a suite")
    parser.add_argument("--suite", action="append", choices=SUITES)
    parser.add_argument("--config", action="append", choices=CONFIGS)
    parser.add_argument("--attack", default="important_instructions")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--explain", action="store_true",
        help="after each row: the rules that stopped calls, the injection tasks that succeeded, "
        "the user tasks that failed without attack",
    )  # fmt: skip
    args = parser.parse_args(argv)
    suites = args.suite or list(SUITES)
    configs = args.config or list(CONFIGS)
    print(f"AgentDojo {VERSION}, attack {args.attack}, scripted agent that obeys every injection")
    print("note: the shipped detectors were trained without AgentDojo's texts")
    print(
        f"{'config':12} {'suite':10} {'utility':>8} {'util@atk':>9} {'targeted ASR':>13} "
        f"{'pairs':>6} {'denied':>7} {'escal.':>7} {'withheld':>9} {'clean held':>11} "
        f"{'check p50':>10}"
    )
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for config in configs:
        totals: Counter[str] = Counter()
        for name in suites:
            r = run_suite(name, config, args.quick, args.attack)
            p50 = statistics.median(r.tally.checks_ms) if r.tally.checks_ms else 0.0
            clean_held = _share(r.tally.clean_withheld, r.tally.clean_results)
            print(
                f"{config:12} {name:10} {r.utility:8.1%} {r.utility_attacked:9.1%} "
                f"{r.asr:13.1%} {r.pairs:6d} {r.tally.denied:7d} {r.tally.escalated:7d} "
                f"{r.tally.withheld:9d} {clean_held:>11} {p50:8.3f}ms",
                flush=True,
            )
            if args.explain:
                print(f"    stopped by: {dict(r.tally.rules.most_common(8))}")
                print(f"    injections that succeeded: {dict(r.tally.succeeded)}")
                print(f"    user tasks failed without attack: {sorted(r.tally.unusable)}")
            rows.append({
                "config": config, "suite": name, "utility": r.utility,
                "utility_under_attack": r.utility_attacked, "targeted_asr": r.asr,
                "pairs": r.pairs, "injection_tasks_left_out": r.left_out,
                "denied": r.tally.denied, "escalated": r.tally.escalated,
                "withheld": r.tally.withheld, "clean_results": r.tally.clean_results,
                "clean_withheld": r.tally.clean_withheld, "check_p50_ms": p50,
            })  # fmt: skip
            totals["pairs"] += r.pairs
            totals["attacked_ok"] += round(r.utility_attacked * r.pairs)
            totals["succeeded"] += round(r.asr * r.pairs)
            totals["clean_results"] += r.tally.clean_results
            totals["clean_withheld"] += r.tally.clean_withheld
        if len(suites) > 1:
            pairs = max(1, totals["pairs"])
            print(
                f"{config:12} {'overall':10} {'':8} {totals['attacked_ok'] / pairs:9.1%} "
                f"{totals['succeeded'] / pairs:13.1%} {totals['pairs']:6d} {'':7} {'':7} {'':9} "
                f"{_share(totals['clean_withheld'], totals['clean_results']):>11}"
            )
    warm, cold = overhead()
    print(f"check_call, default policy, 20-step trace: p50 {warm:.3f} ms (results labelled), "
          f"{cold:.3f} ms (one new result)")  # fmt: skip
    print(f"elapsed {time.perf_counter() - started:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "overhead_ms": {"warm": warm, "cold": cold}}, f, indent=2)


if __name__ == "__main__":
    main()
