# Every target installs what it needs: Node (>= 22.18, fetched from the npm registry when the
# machine's is older), npm packages, and the Java servers from Maven Central into .cache/.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
NODE_BIN := $(shell infra/node.sh)
export PATH := $(NODE_BIN):$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: deps test demo bench typecheck unit

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

deps: node_modules/.installed

typecheck: deps
	tsc --noEmit

unit: deps
	vitest run --project unit

test: deps typecheck
	vitest run

demo: deps
	node bin/retail-streams.js replay --input samples/invoices.jsonl --out out

bench: deps
	node bench/run.ts
