# Two set-up commands (see README): `make demo` and `make test`. Each creates .venv itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The CPU build of torch; an unpinned torch would pull a multi-GB CUDA build.
TORCH  := torch==2.13.0

.PHONY: demo test venv

venv:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)

demo: venv
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e '.[pipeline]'
	$(BIN)/diarefine diarize examples/demo.flac -o demo-out --overwrite
	$(BIN)/diarefine score examples/demo.rttm demo-out/demo.rttm --uem examples/demo.uem

test: venv
	bash scripts/ensure-sctk.sh
	bash scripts/ensure-chromium.sh
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e '.[pipeline,test]'
	@$(BIN)/python -m pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no test: failing" >&2; exit 1; fi; exit $$rc
