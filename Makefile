# cohortd: every target builds what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEPS   := $(VENV)/.deps-stamp
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: build demo test bench bench-large lint proto clean

$(DEPS): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

build: $(DEPS)
	$(BIN)/maturin develop --release --quiet

demo: build
	$(BIN)/python -m cohortd.demo

test: build
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

bench: build
	$(BIN)/python -m pytest -q benchmarks --benchmark-enable --benchmark-json=benchmarks/results/pytest-benchmark.json
	$(BIN)/python benchmarks/ingest_bench.py --events 10000000
	$(BIN)/python benchmarks/compare_engines.py --users 1000000 --events 10000000
	$(BIN)/python benchmarks/analysis_bench.py --users 1000000 --events 10000000
	$(BIN)/python benchmarks/load_bench.py --users 1000000 --cohorts 20
	$(BIN)/python benchmarks/freshness_bench.py
	$(BIN)/python benchmarks/console_bench.py
	$(BIN)/python benchmarks/personas_bench.py
	$(BIN)/python benchmarks/know_your_data_bench.py
	$(BIN)/python benchmarks/hostile_bench.py
	$(BIN)/python benchmarks/cluster_bench.py

bench-large: build
	$(BIN)/python benchmarks/ingest_bench.py --events 100000000
	$(BIN)/python benchmarks/compare_engines.py --users 10000000 --events 100000000

lint: build
	$(BIN)/ruff check python tests benchmarks
	$(BIN)/ruff format --check python tests benchmarks
	cd rust && cargo fmt --check
	cd rust && cargo clippy --all-targets -- -D warnings
	cd rust && cargo test -p cohortd-core
	$(BIN)/mypy
	$(BIN)/python -m mypy.stubtest cohortd._native

proto: $(DEPS)
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=python --pyi_out=python --grpc_python_out=python proto/cohortd/v1/*.proto

clean:
	rm -rf $(VENV) rust/target build dist
