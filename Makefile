# Everything goes through here: `make lab` for the course, `make test` for the tests.
SHELL := /bin/bash
VENV ?= $(or $(COURSE_VENV),$(HOME)/.cache/cnn-course/venv)
PY := $(VENV)/bin/python
export COURSE_VENV := $(VENV)
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
export PATH := $(VENV)/bin:$(PATH)
# Tests and checks never touch the network.
export HF_HUB_OFFLINE := 1
CHAPTER ?=
JOBS ?= 2

.PHONY: help env lab instructor course release check test bench
help:
	@echo "make lab         set up, then open the student notebooks in JupyterLab (student lab)"
	@echo "make instructor  the same lab with nbgrader's instructor tools (Formgrader, Create Assignment)"
	@echo "make course      set up, rebuild release/ from source/ and check every notebook (headless)"
	@echo "make test        set up, then run the whole test suite (what CI runs)"
	@echo "make bench       print the speed benchmarks"

env:
	@scripts/ensure-env

# Jupyter refuses to run as root without --allow-root (containers often are root).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
# Two lab modes from the same venv: each launch puts its own Jupyter config folder
# (scripts/lab-config/MODE: which nbgrader and JupyterLab plugins are on) first on
# JUPYTER_CONFIG_PATH, so nothing in the shared environment is changed.
# LAB_ARGS adds options, e.g. LAB_ARGS="--no-browser --ServerApp.port=8899".
lab_mode = JUPYTER_CONFIG_PATH="$(CURDIR)/scripts/lab-config/$(1)$(if $(JUPYTER_CONFIG_PATH),:$(JUPYTER_CONFIG_PATH))"
LAB = $(PY) -m jupyter lab $(ROOT_FLAG) $(LAB_ARGS) --ServerApp.root_dir="$(CURDIR)"

lab: env
	$(call lab_mode,student) $(LAB) \
		--LabApp.default_url=/lab/tree/release/01_convolution/01_convolution.ipynb

instructor: env
	$(call lab_mode,instructor) $(LAB) \
		--LabApp.default_url=/lab/tree/source/01_convolution/01_convolution.ipynb

release: env
	$(PY) -m course release $(CHAPTER)

check: env
	$(PY) -m course check $(CHAPTER)

course: release check

test: env
	@scripts/ensure-system
	$(PY) -m pytest -n $(JOBS) --dist loadgroup

bench: env
	$(PY) -m course bench
