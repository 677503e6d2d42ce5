# mpcgen developer entry points. Two commands do everything on a fresh machine:
#   make demo   install, generate the pendulum, compile and verify it
#   make test   install and run the whole test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
MPCGEN := $(VENV)/bin/mpcgen
STAMP  := $(VENV)/.installed
DEMO   := build/demo

.PHONY: install tools demo test bench generated clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# System tools the tests use: a C compiler pair (gcc and clang). Installed with
# apt-get when missing (CI and fresh machines run as root).
tools:
	@command -v gcc >/dev/null && command -v clang >/dev/null || { \
	  echo "installing clang with apt-get"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc clang >/dev/null; }

demo: install tools
	$(MPCGEN) generate pendulum -o $(DEMO)/pendulum
	$(MPCGEN) verify $(DEMO)/pendulum

test: install tools
	$(PY) -m pytest -q

bench: install tools
	$(MPCGEN) bench

# Regenerate the committed example outputs in generated/.
generated: install
	$(MPCGEN) examples --generate generated

clean:
	rm -rf build $(VENV)
