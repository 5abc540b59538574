# Two commands do all set-up on a fresh machine: `make run` and `make test`.
# Tools are installed, pinned, into $(PASSKEY_TOOLS_DIR) (default ~/.cache/send-passkey-link).
SHELL := /bin/bash
.DEFAULT_GOAL := help
STACK := scripts/stack.sh

.PHONY: help tools run test unit dev stop lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

tools: ## install the pinned local-stack tools into the per-user cache
	@scripts/tools.sh all

run: tools ## the main job end to end: stack, table, seed, function under cargo-lambda, one real call
	@$(STACK) with scripts/run.sh

test: tools lint ## lint, unit + integration tests against the local stack, then `make run`'s path
	@$(STACK) with bash -c 'cargo test --locked && scripts/run.sh'
	@echo "make test: all passed"

dev: tools ## keep the stack and the function up for experiments (stop with `make stop`)
	@$(STACK) up
	@eval "$$($(STACK) env)" && export TABLE_NAME=$${TABLE_NAME:-passkeys-demo} && \
	  cargo build --quiet --bin passkey-admin && target/debug/passkey-admin create-table && \
	  target/debug/passkey-admin seed events/seed.json && scripts/lambda.sh up
	@eval "$$($(STACK) env)" && echo "DynamoDB $$AWS_ENDPOINT_URL_DYNAMODB, SES $$AWS_ENDPOINT_URL_SESV2 (mailbox UI $$MAILBOX_URL/), function on 127.0.0.1:$${LAMBDA_PORT:-19000}"
	@echo "try: scripts/lambda.sh invoke events/send-link.json"

stop: ## stop everything `make dev` or an interrupted run started
	@scripts/lambda.sh down
	@$(STACK) down

lint: ## formatting and clippy, warnings are errors
	cargo fmt --check
	cargo clippy --locked --all-targets -- -D warnings

clean: stop ## remove build output and stack state (the tool cache stays)
	rm -rf target .stack
