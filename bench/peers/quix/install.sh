#!/usr/bin/env bash
# Installs the Quix Streams peer's Python environment once, into the git-ignored .cache/py-peers
# venv, and prints the venv's python on the last line. Idempotent: a venv whose quixstreams imports
# is kept as it is (a pip run costs seconds even when nothing changes, and it needs the network).
#   QUIX_VERSION=3.28.0 bash bench/peers/quix/install.sh   # pin; default: the latest release
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
venv="$root/.cache/py-peers"
py="$venv/bin/python"
spec="quixstreams${QUIX_VERSION:+==$QUIX_VERSION}"
if [[ -x "$py" ]] && "$py" -c 'import quixstreams, confluent_kafka' 2>/dev/null \
   && { [[ -z "${QUIX_VERSION:-}" ]] || [[ "$("$py" -c 'import quixstreams; print(quixstreams.__version__)')" == "$QUIX_VERSION" ]]; }; then
  echo "$py"
  exit 0
fi
command -v python3 >/dev/null || { echo "python3 is not installed" >&2; exit 1; }
if [[ ! -x "$py" ]]; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2 || { echo "python3 -m venv failed (the venv/ensurepip module may be missing: apt-get install python3-venv)" >&2; exit 1; }
fi
# Wheels only: quixstreams pulls confluent-kafka, whose wheels bundle librdkafka; a source build
# would need librdkafka headers and a compiler, so refuse it rather than half-install.
"$py" -m pip install --quiet --disable-pip-version-check --only-binary=:all: "$spec" >&2 \
  || { echo "pip install $spec failed (see the lines above)" >&2; exit 1; }
"$py" -c 'import quixstreams, confluent_kafka' >&2 || { echo "quixstreams installed but does not import" >&2; exit 1; }
echo "$py"
