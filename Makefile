# Two commands do all set-up on a fresh machine: `make run` and `make test`.
# Tools are installed, pinned, into $(PASSKEY_TOOLS_DIR) (default ~/.cache/send-passkey-link).
SHELL := /bin/bash
.DEFAULT_GOAL := help
STACK := scripts/stack.sh

.PHONY: help tools tools-stack run test fuzz sam-local sam-api bench bench-size bench-peer dev mail try-passkey status logs reset stop lint validate package deploy clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

tools: ## install every tool make test needs (registry packages pinned, Debian packages within ranges; chromium and docker.io need root) into the per-user cache
	@scripts/tools.sh all

tools-stack: ## install what the local stack needs (no browser, no root)
	@scripts/tools.sh stack

run: tools-stack ## the main job end to end: stack, table, seed, function under cargo-lambda, one real call
	@$(STACK) with scripts/run.sh

test: tools lint validate ## lint, unit + integration tests on the local stack, `make run`'s path, schemathesis, sam local
	@"$$(scripts/tools.sh python)/python" -B -m unittest discover -s scripts -p 'test_*.py'
	@$(STACK) with bash -c 'source scripts/lib.sh && require_local_stack "make test" && cargo test --locked && scripts/run.sh && scripts/api-check.sh && scripts/sdk-check.sh && scripts/browser-check.sh'
	@scripts/check-first-hour.sh
	@scripts/sam-local.sh check
	@echo "make test: all passed"

fuzz: tools-stack ## schemathesis's deep run on the local stack: SCHEMATHESIS_EXAMPLES (default 100) examples per operation and phase, where make test takes 10
	@$(STACK) with bash -c 'source scripts/lib.sh && require_local_stack "make fuzz" && SCHEMATHESIS_EXAMPLES="$${SCHEMATHESIS_EXAMPLES:-100}" scripts/api-check.sh'

sam-local: tools-stack ## every events/ file through `sam local invoke`, then start-api with a token (root: own dockerd; SAM_LOCAL_ARCH=arm64 for qemu)
	@scripts/sam-local.sh check

sam-api: tools-stack ## `sam local start-api` on 127.0.0.1:3000 with the stack and a local authorizer, until Ctrl-C
	@scripts/sam-local.sh api

bench: tools-stack ## release function under AWS's runtime emulator vs the floor; writes docs/benchmarks.md + .png
	@scripts/bench.sh

bench-peer: tools-stack ## the function beside Keycloak 26.5.6 (JDK 25; 165 MB download once); writes docs/benchmarks-peer.md + .png
	@scripts/bench-peer.sh

bench-size: tools-stack ## each knob's effect on size and speed (~10-15 min a knob, all: ~1.5-2 h; BENCH_SIZE_KNOBS picks); writes docs/benchmarks-size.md
	@scripts/bench-size.sh

dev: tools-stack ## keep the stack, the function and the gateway up; run again to apply changed settings
	@$(STACK) up
	@eval "$$($(STACK) env)" && scripts/dev.sh

mail: ## the newest mail the running `make dev` stack's SES emulator caught: recipient, subject, link
	@python3 scripts/show-mail.py

try-passkey: ## headless chromium registers a passkey through the newest mailed link of `make dev`; screenshots to a new temp folder
	@scripts/try-passkey.sh

status: ## what runs where (ports, PIDs, logs), healthy or not, and what to try
	@scripts/status.sh

logs: ## follow the logs of everything the scripts started (Ctrl-C ends)
	@scripts/status.sh logs

reset: ## stop everything, then `make dev` afresh: empty table and mailbox, new rate-limit windows
	@$(MAKE) --no-print-directory stop
	@$(MAKE) --no-print-directory dev

stop: ## stop everything `make dev` or an interrupted run started
	@scripts/gateway.sh down
	@scripts/lambda.sh down
	@$(STACK) down

validate: tools-stack ## cfn-lint + sam validate --lint + checkov on infra/template.yaml and infra/page-edge.yaml (offline, zero warnings)
	@scripts/infra.sh validate

package: tools-stack ## sam build: the arm64 bootstraps via cargo-lambda + zig; prints their sizes
	@scripts/infra.sh package

deploy: tools-stack ## sam build + sam deploy (guided the first time; STAGE=prod for prod)
	@scripts/infra.sh deploy

lint: ## formatting, clippy (warnings are errors), no import circle in src/ and no source file over 500 lines but the listed ones
	cargo fmt --check
	cargo clippy --locked --all-targets -- -D warnings
	python3 scripts/import_cycles.py
	python3 scripts/file_lengths.py

clean: stop ## remove build output and stack state (the tool cache stays)
	rm -rf target .stack infra/.aws-sam
