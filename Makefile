# The two commands of the README: `make run` (the product on its defaults) and `make test` (the whole suite).
.PHONY: run test lint setup
setup:
	@bash scripts/bootstrap.sh

run: setup
	.venv/bin/lasso serve

test: setup
	@bash scripts/test_deps.sh
	.venv/bin/python -m ruff check .
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/python -m ruff check .
