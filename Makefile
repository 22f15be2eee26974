# The two commands of the README: `make run` (the product on its defaults) and `make test` (the whole suite).
.PHONY: run test lint setup
setup:
	@bash scripts/bootstrap.sh

run: setup
	.venv/bin/lasso separate examples/mixture.wav --prompt "piano" --out-dir out/

test: setup
	.venv/bin/python -m ruff check .
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/python -m ruff check . && .venv/bin/python -m ruff format --check .
