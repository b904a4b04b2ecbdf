# Every target installs what it needs: Node (>= 22.18, fetched from the npm registry when the
# machine's is older), npm packages, and the Java servers from Maven Central into .cache/.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
NODE_BIN := $(shell infra/node.sh)
export PATH := $(NODE_BIN):$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: deps servers test unit integration typecheck build pack docs startup lint-deploy scaling demo bench replay-sample browser

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

deps: node_modules/.installed

# Headless Chromium for the dashboard tests: Debian's chromium, installed with apt when missing.
browser:
	infra/browser.sh >/dev/null

# Fetch the real servers once (Kafka, HDFS, schema registry), so test timeouts never include downloads.
servers:
	infra/kafka/kafka.sh fetch
	infra/hdfs/hdfs.sh fetch
	infra/registry/registry.sh fetch

typecheck: deps
	tsc --noEmit

unit: deps
	vitest run --project unit

integration: deps servers browser
	vitest run --project integration

# Every test: type check, unit tests, then the integration tests against the real servers.
# The unit project includes the examples (test/examples/), the packed-package test (npm pack, the
# tarball installed into a temporary project, used from JS, TS, an example, the CLI and Deno) and
# the Deno run of the test-driver suites and of replay (test/package/); the integration project
# runs examples/word-count against a real broker (test/integration/examples.test.ts).
# The last line is the plain summary CI reads; the exit status is vitest's.
test: deps typecheck servers browser
	status=0; vitest run --reporter=default --reporter=json --outputFile=.cache/vitest-report.json || status=$$?; \
	node infra/test-summary.ts .cache/vitest-report.json; exit $$status

# The published form: JavaScript and declarations in dist/ (tsc -p tsconfig.build.json).
build: deps
	npm run build --silent

# retail-streams-0.1.0.tgz, as `npm publish` would upload it (prepack runs the build).
pack: deps
	npm pack --silent

# API documentation of both entry points (retail-streams, retail-streams/retail) in docs/api/ (git-ignored).
docs: deps
	typedoc
	@echo "API docs: docs/api/index.html"

# Start-up of the CLI against `node -e 0`, from the sources and installed from the tarball (quiet machine).
startup: deps
	infra/startup.sh

# hadolint, kubernetes-validate, yamllint and systemd-analyze on docs/deploy/.
lint-deploy:
	infra/lint-deploy.sh

# The scaling measurement of docs/deployment.md: 1, 2, 4 `run` processes on 8, 16, 32 partitions
# against a local broker (about 5 minutes; run it on a quiet machine).
scaling: deps
	infra/kafka/kafka.sh fetch
	node infra/scaling.ts

demo: deps
	infra/kafka/kafka.sh fetch
	infra/demo.sh

replay-sample: deps
	node bin/retail-streams.js replay --input samples/invoices.jsonl --out out --overwrite

bench: deps servers
	node bench/run.ts
