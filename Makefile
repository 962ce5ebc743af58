# Two commands a user needs: `make study` (the report on the built-in data) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PROFILE ?= cpu
DATA ?= synthetic
DATA_ROOT ?=
DEVICE ?= auto

.PHONY: setup study test book clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,book]'
	touch $@

setup: $(VENV)/.installed

study: setup
	$(PY) -m respcore.study --profile $(PROFILE) --dataset $(DATA) --data-root '$(DATA_ROOT)' --device $(DEVICE)

test: setup
	$(PY) -m pytest -q

book: setup
	$(VENV)/bin/jupyter-book build book

clean:
	rm -rf _build book/_build
