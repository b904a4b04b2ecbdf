# Every target installs what it needs: Node (>= 22.18, fetched from the npm registry when the
# machine's is older), npm packages, and the Java servers from Maven Central into .cache/.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
NODE_BIN := $(shell infra/node.sh)
export PATH := $(NODE_BIN):$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: deps servers test unit integration typecheck demo bench replay-sample

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

deps: node_modules/.installed

# Fetch the real servers once (Kafka, HDFS, schema registry), so test timeouts never include downloads.
servers:
	infra/kafka/kafka.sh fetch
	infra/hdfs/hdfs.sh fetch
	infra/registry/registry.sh fetch

typecheck: deps
	tsc --noEmit

unit: deps
	vitest run --project unit

integration: deps servers
	vitest run --project integration

# Every test: type check, unit tests, then the integration tests against the real servers.
# The last line is the plain summary CI reads; the exit status is vitest's.
test: deps typecheck servers
	status=0; vitest run --reporter=default --reporter=json --outputFile=.cache/vitest-report.json || status=$$?; \
	node infra/test-summary.ts .cache/vitest-report.json; exit $$status

demo: deps
	infra/kafka/kafka.sh fetch
	infra/demo.sh

replay-sample: deps
	node bin/retail-streams.js replay --input samples/invoices.jsonl --out out --overwrite

bench: deps servers
	node bench/run.ts
