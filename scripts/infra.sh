#!/usr/bin/env bash
# infra/template.yaml: validate (offline), package (sam build: arm64 bootstrap via
# cargo-lambda + zig), deploy (sam deploy, guided the first time). validate also checks
# infra/page-edge.yaml, the page's optional edge (deployed by hand: docs/deploying.md).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PATH="$("$ROOT/scripts/tools.sh" python):$PATH"
export SAM_CLI_TELEMETRY=0
# SAM (botocore) reads AWS_DEFAULT_REGION; the docs and the Rust SDK say AWS_REGION.
if [[ -n "${AWS_REGION:-}" && -z "${AWS_DEFAULT_REGION:-}" ]]; then export AWS_DEFAULT_REGION="$AWS_REGION"; fi
STAGE="${STAGE:-default}"
cd "$ROOT/infra"

build() {
  # The arm64 standard library for cross-compiling; rustup does nothing when it is there.
  rustup target add aarch64-unknown-linux-gnu >/dev/null
  echo "package: sam build cross-compiles both functions' release bootstraps for arm64 (about 8" \
    "minutes on 2 cores the first time; sam shows no cargo output until it is done)"
  sam build --config-env "$STAGE"
  local function bootstrap
  for function in Function DeliveryFeedbackFunction; do
    bootstrap="$ROOT/infra/.aws-sam/build/$function/bootstrap"
    # DeliveryFeedback=disabled builds no second function.
    [[ -f "$bootstrap" ]] || continue
    file "$bootstrap" 2>/dev/null || true
    echo "$function bootstrap: $(du -h "$bootstrap" | cut -f1) ($(stat -c %s "$bootstrap") bytes)"
  done
}

case "${1:-}" in
  validate)
    # Offline: any region's rules do; a package or deploy takes the caller's (AWS_REGION, or the
    # profile's), never this one.
    export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-${AWS_REGION:-eu-central-1}}"
    checkov="$("$ROOT/scripts/tools.sh" checkov)"
    # page-edge.yaml lives in us-east-1 (CloudFront's web ACLs), whatever the stack's region.
    for template in template.yaml page-edge.yaml; do
      region="$AWS_DEFAULT_REGION"
      [[ "$template" == page-edge.yaml ]] && region=us-east-1
      cfn-lint --regions "$region" -- "$template"
      sam validate --lint --region "$region" --template-file "$template"
      # What the deploy's change set runs and the two above do not: SAM's transform, over each
      # parameter combination the docs document (scripts/sam_translate.py's COMBINATIONS).
      # cfn-lint above already checks every combination of the conditions.
      combinations=()
      [[ "$template" == template.yaml ]] && combinations=(--all)
      AWS_DEFAULT_REGION="$region" python3 "$ROOT/scripts/sam_translate.py" "${combinations[@]}" "$template"
      # Findings that do not apply are skipped, with the reason, in the template's Metadata.
      # --skip-download: offline, no call to the vendor's platform.
      "$checkov" -f "$template" --framework cloudformation --skip-download --compact --quiet
    done
    echo "validate: cfn-lint, sam validate --lint, SAM's transform and checkov passed on template.yaml and" \
      "page-edge.yaml with no errors and no warnings"
    ;;
  package) build ;;
  deploy)
    case "$STAGE" in
      default | staging | prod) ;;
      *) echo "deploy: STAGE is default (the dev stage), staging or prod, not '$STAGE'" >&2; exit 2 ;;
    esac
    echo "deploy: stage $STAGE in region ${AWS_REGION:-${AWS_DEFAULT_REGION:-of your AWS profile}}"
    # A stage deploys from what its own section of samconfig.toml saved; the first deployment
    # of a stage asks for the parameters (SAM saves them there). A pipeline (CI set) cannot
    # answer questions: it is told what is missing, and does not wait for a confirmation.
    if python3 "$ROOT/scripts/samconfig_stage.py" samconfig.toml "$STAGE"; then
      build
      sam deploy --config-env "$STAGE" ${CI:+--no-confirm-changeset}
    elif [[ -n "${CI:-}" ]]; then
      echo "deploy: run 'STAGE=$STAGE make deploy' once from a terminal (it asks for them and" \
        "saves them in infra/samconfig.toml), or add them to [$STAGE.deploy.parameters] there" >&2
      exit 1
    else
      build
      sam deploy --guided --config-env "$STAGE"
    fi
    ;;
  *) echo "usage: $0 validate|package|deploy" >&2; exit 2 ;;
esac
