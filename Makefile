# gr-semdacom — the README's commands. `make setup` is idempotent and run by the others.
SHELL := /bin/bash
ROOT := $(CURDIR)
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
PREFIX := $(ROOT)/prefix
BUILD := $(ROOT)/build
JOBS ?= 2

.PHONY: setup demo test lint format bench fuzz soak clean apt venv build install-py

setup: apt venv build
	@$(PY) scripts/wire_venv.py $(VENV) $(PREFIX)
	@$(PY) -c "from gnuradio import semdacom; semdacom.superposition_beamformer" \
	  && echo "setup: ok (gnuradio.semdacom importable; .venv/bin/semdacom ready)"

apt:
	@bash scripts/setup_apt.sh

$(VENV)/bin/python:
	/usr/bin/python3 -m venv --system-site-packages $(VENV)

$(VENV)/.deps-stamp: requirements.txt constraints.txt | $(VENV)/bin/python
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -r requirements.txt
	@touch $@

venv: $(VENV)/.deps-stamp

build: | $(VENV)/bin/python
	@cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) -DENABLE_DOXYGEN=OFF \
	  -DCMAKE_BUILD_TYPE=Release -DPYTHON_EXECUTABLE=/usr/bin/python3 > $(BUILD).log 2>&1 \
	  || { cat $(BUILD).log; exit 1; }
	@cmake --build $(BUILD) -j $(JOBS) >> $(BUILD).log 2>&1 || { tail -50 $(BUILD).log; exit 1; }
	@cmake --install $(BUILD) >> $(BUILD).log 2>&1 || { tail -50 $(BUILD).log; exit 1; }

# the edit-test loop for Python-only changes: copy src/semdacom, python/semdacom and grc/ into
# ./prefix (no CMake; C++ changes need `make setup`)
install-py:
	@$(PY) scripts/install_py.py $(PREFIX)

demo: setup
	$(VENV)/bin/semdacom demo-mu-ascc
	$(VENV)/bin/semdacom demo-sc-sfma
	$(VENV)/bin/semdacom demo

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	clang-format --dry-run --Werror lib/*.cc lib/*.c lib/*.h include/gnuradio/semdacom/*.h \
	  python/semdacom/bindings/*.cc python/semdacom/bindings/*.h src/bindings/*.cc

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
	clang-format -i lib/*.cc lib/*.c lib/*.h include/gnuradio/semdacom/*.h \
	  python/semdacom/bindings/*.cc python/semdacom/bindings/*.h src/bindings/*.cc

test: setup lint
	cd $(BUILD) && ctest --output-on-failure
	$(PY) -m pytest tests -q -p no:cacheprovider

bench: setup
	$(PY) bench/run.py $(ARGS)

# >= 1000 fuzz messages on every input message port of every block (tests/fuzz); prints the
# per-port table and writes bench/results/fuzz.json (nothing else)
fuzz: setup
	SEMDACOM_FUZZ_PROFILE=fuzz SEMDACOM_FUZZ_JSON=1 $(PY) -m pytest tests/fuzz -q \
	  -p no:cacheprovider

# the closed loop for 10^5 images per user (ARGS="--images N" for fewer) with the feedback cut
# and the optimiser restarted, then the over-the-air split; writes bench/results/soak.json and
# soak.png (tests/flowgraphs/test_soak.py runs a short profile in `make test`)
soak: setup
	$(PY) bench/soak.py $(ARGS)

clean:
	rm -rf $(BUILD) $(BUILD).log $(PREFIX)
