# convlab: `make report` builds the report, `make test` runs the tests; both set up .venv first.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
# IMAGE_PYTHON: run with an interpreter as it is, instead of .venv: nothing is installed, nothing downloaded, and
# the interpreter must already hold the packages (SageMaker Studio's image: `make report IMAGE_PYTHON=python`).
ifdef IMAGE_PYTHON
IMAGE_BIN := $(shell command -v $(IMAGE_PYTHON))
ifeq ($(IMAGE_BIN),)
$(error IMAGE_PYTHON=$(IMAGE_PYTHON) is no interpreter on this machine: give its path, e.g. IMAGE_PYTHON=/opt/conda/bin/python)
endif
BIN := $(patsubst %/,%,$(dir $(IMAGE_BIN)))
PY := $(IMAGE_BIN)
ENVIRONMENT := image-check
else
PY := $(BIN)/python
ENVIRONMENT := $(VENV)/.installed
endif

# Report parameters. Each notebook parameter that a make variable sets is declared in convlab/study/parameters.py
# (standard library only, so any Python reads it): EPOCHS=2 passes epochs=2 to every notebook that takes it, a
# variable left empty leaves the notebooks' default. docs/running.md lists them.
PARAMETER_VARIABLES := $(shell $(PYTHON) -m convlab.study.parameters make)
DATASET ?= fashion_mnist mnist
# NOTEBOOKS empty: the profile's notebooks (quick: the studies' own; full and gpu: every one that convlab/study/manifest.py
# declares, in its order; `python -m convlab.study.manifest` lists them)
NOTEBOOKS ?=
# JOBS: datasets run side by side, each in a process of its own (1: one after the other; the records are the same)
JOBS ?= 2
PDF ?=

# TRAIN_ON=sagemaker: every training as parallel SageMaker training jobs before the notebooks run (docs/sagemaker.md);
# SAGEMAKER_INSTANCE, SAGEMAKER_JOBS (at once), AWS_REGION, ROLE_ARN, AWS_BUCKET; CONFIRM=yes launches, else the estimate only
TRAIN_ON ?= local
ifeq ($(filter $(TRAIN_ON),local sagemaker),)
$(error TRAIN_ON=$(TRAIN_ON): use local (the default) or sagemaker)
endif
SAGEMAKER_OPTIONS = $(if $(filter sagemaker,$(TRAIN_ON)),--instance $(or $(SAGEMAKER_INSTANCE),ml.m5.large) --max-jobs $(or $(SAGEMAKER_JOBS),8) \
	$(if $(AWS_REGION),--aws-region $(AWS_REGION)) --role-arn "$(ROLE_ARN)" $(if $(AWS_BUCKET),--aws-bucket $(AWS_BUCKET)) $(if $(filter yes,$(CONFIRM)),--confirm))

# A variable given on the command line that no target reads is a typo (EPOCH=2 for EPOCHS=2): refuse it, naming the valid ones.
KNOWN_VARIABLES := PYTHON VENV IMAGE_PYTHON DATASET NOTEBOOKS JOBS PDF FORCE FULL STUDIO_PYTHON STUDIO_PACKAGES WHEELHOUSE LOCKS REGISTER_KERNEL \
	TRAIN_ON SAGEMAKER_INSTANCE SAGEMAKER_JOBS AWS_REGION ROLE_ARN AWS_BUCKET CONFIRM PORT PART \
	$(foreach pair,$(PARAMETER_VARIABLES),$(firstword $(subst =, ,$(pair))))
ifeq ($(filter DATA_DIR,$(KNOWN_VARIABLES)),)
$(error $(PYTHON) -m convlab.study.parameters make printed no report parameters: run make from the repository's root with Python 3.11 or later)
endif
# The names of the variables given on the command line, read from make itself: MAKEOVERRIDES holds `NOTEBOOKS=02_fc_baseline\ 03_cnn`,
# whose words are not one assignment each, so a value with a space must not be split into names.
COMMAND_LINE_VARIABLES := $(foreach variable,$(.VARIABLES),$(if $(filter command line,$(origin $(variable))),$(variable)))
UNKNOWN_VARIABLES := $(sort $(filter-out $(KNOWN_VARIABLES),$(COMMAND_LINE_VARIABLES)))
ifneq ($(UNKNOWN_VARIABLES),)
$(error Unknown variable(s) $(UNKNOWN_VARIABLES): make reads only $(KNOWN_VARIABLES) (see docs/running.md))
endif
# `-p name "value"` for each report parameter whose make variable is set
REPORT_PARAMETERS = $(foreach pair,$(PARAMETER_VARIABLES),$(if $(strip $($(firstword $(subst =, ,$(pair))))),\
	-p $(lastword $(subst =, ,$(pair))) "$(strip $($(firstword $(subst =, ,$(pair)))))"))

.PHONY: help setup image-check smoke serving-envs report explore publish check-report verify bench test test-slow test-studio wheelhouse offline-install lint format lock lock-studio \
	clean clean-cache clean-venv

help: ## Show the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

setup: $(ENVIRONMENT) ## Create .venv with the pinned dependencies and the convlab kernel (idempotent; IMAGE_PYTHON: check that interpreter instead)

IMAGE_PACKAGES := tensorflow keras numpy pandas scipy matplotlib seaborn papermill nbconvert ipykernel jinja2
image-check:
	@$(IMAGE_BIN) -c "import importlib.util, sys; missing = [n for n in sys.argv[1:] if importlib.util.find_spec(n) is None]; \
		sys.exit(f'$(IMAGE_BIN) lacks {\", \".join(missing)}: use an image that has them, or make report without IMAGE_PYTHON') if missing else None" \
		$(IMAGE_PACKAGES)
	@echo "Running with $(IMAGE_BIN) as it is: nothing installed, nothing downloaded."

# uv installs the pinned packages of requirements.txt exactly as pip would (bytecode compiled, as pip does), in seconds
# once its cache holds them
# (pip remains for the offline wheelhouse, `make offline-install`)
UV_VERSION := 0.13.9
$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(PY) -r requirements.txt
	$(BIN)/uv pip install --quiet --python $(PY) --no-deps -e .
	$(PY) -m ipykernel install --user --name convlab --display-name "Python (convlab)" >/dev/null
	@touch $@
	@echo "Environment ready in $(VENV) ($$($(PY) --version))."

report: setup ## Run the notebooks, then build reports/report.html and report.pdf (PROFILE, DATASET, PDF=required|off, ...)
	$(PY) -m convlab.run.$(if $(filter sagemaker,$(TRAIN_ON)),remote $(SAGEMAKER_OPTIONS),pipeline) --datasets $(DATASET) \
		$(if $(strip $(NOTEBOOKS)),--notebooks $(NOTEBOOKS)) $(if $(FORCE),--force) --jobs $(JOBS) $(REPORT_PARAMETERS)
	PDF="$(PDF)" $(PY) -m convlab.report.report --datasets $(DATASET)

PORT ?= 8765
explore: setup ## Serve the explorer on 127.0.0.1:$(PORT) over the latest run's FC network and CNN (DATASET: the first one named)
	$(PY) -m convlab.explorer.server --dataset $(firstword $(DATASET)) --port $(PORT) $(if $(DATA_DIR),--data-dir $(DATA_DIR))

publish: setup ## Copy the latest full run (PROFILE=full or gpu: report HTML and PDF, result records) to reports/published/, after its full check
	$(PY) -m convlab.report.report --publish

# FULL=1: a full run, in which every checked claim must hold (a subset run's claims may fairly fail)
FULL ?=
check-report: setup ## Check the built report: no script or network reference, no machine path or template leak, figures numbered and captioned, claims listed, PDF margins
	$(PY) -m convlab.report.doccheck $(if $(FULL),--full)

# PART=numbers: only the paper's numbers recomputed from the published records (under a minute; CI runs it)
PART ?=
verify: setup ## Retrain a stated sample of the published trainings against their records and recompute every number of the paper (PART=numbers: the numbers alone)
	$(if $(filter-out numbers,$(PART)),$(error PART=$(PART): use PART=numbers (the paper's numbers alone) or leave it out (everything)))
	$(if $(DATA_DIR),CONVLAB_DATA_DIR="$(DATA_DIR)") $(PY) -m convlab.tools.verify $(if $(filter numbers,$(PART)),--numbers-only)

bench: setup ## Measure training throughput against plain Keras, share of peak FLOP/s, per-notebook times, serving
	$(PY) -m convlab.tools.bench $(if $(DATA_DIR),--data-dir "$(DATA_DIR)")

# The SageMaker TF Serving images' Python packages, read from ../shared/reference (skipped where it is absent)
serving-envs: setup ## Build .venv-serving/: each TF Serving image's package set, for the container conformance tests
	$(PY) -m convlab.serving.container build 2.19 2.20

test: setup serving-envs ## Run the unit and notebook smoke tests (pytest), the slow tier aside; the data as `make report` finds them
	$(if $(DATA_DIR),CONVLAB_DATA_DIR="$(DATA_DIR)") $(PY) -m pytest --durations=10

smoke: setup ## Run the notebook smoke tests alone (with IMAGE_PYTHON: in that interpreter as it is, offline)
	$(if $(DATA_DIR),CONVLAB_DATA_DIR="$(DATA_DIR)") $(PY) -m pytest -m "smoke and not slow"

test-slow: setup serving-envs ## Run the slow tier: end-to-end cases of a minute or more (CI runs it after make test)
	$(if $(DATA_DIR),CONVLAB_DATA_DIR="$(DATA_DIR)") $(PY) -m pytest -m slow --durations=10

# SageMaker Studio's image as it is: its versions (requirements/studio.txt) on Python 3.12 where the machine has it,
# convlab installed the offline way a student would (no dependencies, no build isolation), then the smoke tests.
STUDIO_VENV := .venv-studio
STUDIO_PYTHON ?= $(shell for p in python3.12 $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) $(PYTHON); do \
	$$p -c pass 2>/dev/null && { echo $$p; break; }; done)

# Studio's conda TensorFlow is a CPU build named `tensorflow`; PyPI's CPU build is `tensorflow-cpu`, which
# convlab.tools.studio_env renames once installed (PyPI's Linux `tensorflow` is the CUDA build). pip, not uv: uv
# refuses tensorflow-cpu 2.19.1's wheel, whose metadata names it `tensorflow`.
$(STUDIO_VENV)/.installed: requirements/studio.txt convlab/tools/studio_env.py
	rm -rf $(STUDIO_VENV) && $(STUDIO_PYTHON) -m venv $(STUDIO_VENV)
	$(STUDIO_VENV)/bin/python -m pip install --quiet -r requirements/studio.txt
	$(STUDIO_VENV)/bin/python -m convlab.tools.studio_env
	@touch $@

test-studio: $(STUDIO_VENV)/.installed serving-envs ## Smoke-test the notebooks, and mode aws against moto, in SageMaker Studio's package versions
	$(STUDIO_VENV)/bin/python -m pip install --quiet --no-deps --no-build-isolation --no-index -e .
	$(STUDIO_VENV)/bin/python -m pip check
	$(STUDIO_VENV)/bin/python -m pytest -m "smoke and not slow"
	$(STUDIO_VENV)/bin/python -m pytest -m "not slow or smoke" tests/test_cloud.py tests/test_remote.py
	$(STUDIO_VENV)/bin/python -m pytest tests/test_student_path.py -m "not smoke and not slow"

# Carrying the locked environment to a machine without internet: `make wheelhouse` where there is internet,
# copy the repository with wheelhouse/, then `make offline-install` there (pip reads only that folder).
WHEELHOUSE ?= wheelhouse
LOCKS ?= requirements/core.txt
REGISTER_KERNEL ?= yes  # no: leave the user's Jupyter kernels alone (CI installs into a scratch folder)

wheelhouse: ## Download the wheels of the locks in LOCKS (default: the core group) into wheelhouse/
	$(PYTHON) -m pip download --quiet --only-binary :all: --dest $(WHEELHOUSE) $(addprefix -r ,$(LOCKS))

offline-install: ## Create .venv from wheelhouse/ alone (pip --no-index), with convlab and its kernel
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-index --find-links $(WHEELHOUSE) $(addprefix -r ,$(LOCKS))
	$(PY) -m pip install --quiet --no-index --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	$(if $(filter no,$(REGISTER_KERNEL)),,$(PY) -m ipykernel install --user --name convlab --display-name "Python (convlab)" >/dev/null)

# Every tracked file is checked. The size cap is 8000 KB because the repository holds the published report
# (about 21 MB, split into files of at most about 6 MB each); models, datasets and run outputs stay out of git.
LINT_MAX_KB := 8000
# Tracked files but symbolic links (notebooks/convlab points at the package, so that notebooks import it uninstalled)
TRACKED_FILES := git ls-files -s -z | perl -0 -ne 'print "$$1\0" if /^(?!120000)\d+ \S+ \d+\t(.*)\0/s'

lint: setup ## ruff over the package, tests and notebooks; notebooks carry no outputs; no private keys or files over 8000 KB
	$(BIN)/ruff check convlab tests notebooks
	$(BIN)/nbstripout --keep-id --verify notebooks/*.ipynb
	$(TRACKED_FILES) | xargs -0 $(BIN)/detect-private-key
	$(TRACKED_FILES) | xargs -0 $(BIN)/check-added-large-files --enforce-all --maxkb=$(LINT_MAX_KB)

format: setup ## Fix what ruff can fix and strip notebook outputs
	$(BIN)/ruff check --fix convlab tests notebooks
	$(BIN)/nbstripout --keep-id notebooks/*.ipynb

lock: setup ## Re-resolve requirements.in into the exact pins of requirements.txt
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet -r requirements.in
	{ echo "# Exact pins of every package (generated by 'make lock' from requirements.in)."; \
	  .lock-venv/bin/python -m pip freeze; } > requirements.txt
	PYTHONPATH=. .lock-venv/bin/python -m convlab.tools.pins
	rm -rf .lock-venv

STUDIO_PACKAGES ?= ../shared/reference/sagemaker-distribution/v4.4.1-cpu-conda-packages.txt
lock-studio: setup ## Re-resolve requirements/studio.in at the versions of Studio's image (STUDIO_PACKAGES, its package list) into requirements/studio.txt
	$(PY) -m convlab.tools.studio_lock $(STUDIO_PACKAGES) --python $(STUDIO_PYTHON)

clean: ## Remove run outputs under reports/ (keeps the environment, the published report and the float32 reference records)
	find reports -mindepth 1 -maxdepth 1 ! -name README.md ! -name published ! -name reference -exec rm -rf {} +

clean-cache: ## Delete every stored training run (records, models): the next report trains everything again
	$(PY) -m convlab.store.cache clear

clean-venv: ## Remove the virtual environments (.venv, .venv-serving, .venv-studio)
	rm -rf $(VENV) .venv-serving $(STUDIO_VENV)
