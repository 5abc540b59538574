# Two commands do all set-up on a fresh machine: `make run` and `make test`.
# Tools are installed, pinned, into $(PASSKEY_TOOLS_DIR) (default ~/.cache/send-passkey-link).
SHELL := /bin/bash
.DEFAULT_GOAL := help
STACK := scripts/stack.sh

.PHONY: help tools run test dev stop lint validate package deploy clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

tools: ## install the pinned local-stack tools into the per-user cache
	@scripts/tools.sh all

run: tools ## the main job end to end: stack, table, seed, function under cargo-lambda, one real call
	@$(STACK) with scripts/run.sh

test: tools lint validate ## lint, unit + integration tests on the local stack, `make run`'s path, schemathesis
	@$(STACK) with bash -c 'cargo test --locked && scripts/run.sh && scripts/api-check.sh'
	@echo "make test: all passed"

dev: tools ## keep the stack and the function up for experiments (stop with `make stop`)
	@$(STACK) up
	@eval "$$($(STACK) env)" && export TABLE_NAME=$${TABLE_NAME:-passkeys-demo} && \
	  cargo build --quiet --bin passkey-admin && target/debug/passkey-admin create-table && \
	  target/debug/passkey-admin seed seed/demo.json && scripts/lambda.sh up && scripts/gateway.sh up
	@eval "$$($(STACK) env)" && echo "DynamoDB $$AWS_ENDPOINT_URL_DYNAMODB, SES $$AWS_ENDPOINT_URL_SESV2 (mailbox UI $$MAILBOX_URL/), function on 127.0.0.1:$${LAMBDA_PORT:-19000}, gateway on http://127.0.0.1:$${GATEWAY_PORT:-18080}"
	@echo 'try: curl -i -X POST -H "content-type: application/json" -H "Authorization: Bearer $$(scripts/gateway.sh token 100000000000000010 100000000000000001)" -d "{}" http://127.0.0.1:$${GATEWAY_PORT:-18080}/management/v1/users/100000000000000011/passwordless/_send_link'
	@echo "  or: scripts/lambda.sh invoke events/send-link.json"

stop: ## stop everything `make dev` or an interrupted run started
	@scripts/gateway.sh down
	@scripts/lambda.sh down
	@$(STACK) down

validate: tools ## cfn-lint + sam validate --lint on infra/template.yaml (offline, zero warnings)
	@scripts/infra.sh validate

package: tools ## sam build: the arm64 bootstrap via cargo-lambda + zig; prints its size
	@scripts/infra.sh package

deploy: tools ## sam build + sam deploy (guided the first time; STAGE=prod for prod)
	@scripts/infra.sh deploy

lint: ## formatting and clippy, warnings are errors
	cargo fmt --check
	cargo clippy --locked --all-targets -- -D warnings

clean: stop ## remove build output and stack state (the tool cache stays)
	rm -rf target .stack infra/.aws-sam
