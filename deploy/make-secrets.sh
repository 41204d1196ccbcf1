#!/usr/bin/env bash
# Makes the tokens a deployment beyond loopback needs, in deploy/secrets/ (never committed):
#   auth               the coordinator's token file (hashes only): --auth-file / QLAB_AUTH_FILE
#   worker.token       for every qlab-worker (--token-file, or QLAB_TOKEN)
#   prometheus.token   a viewer token for scraping /metrics
#   admin.token        for you: qlab (QLAB_TOKEN) and the dashboard
# Uses qlab-server from PATH, ./build, or the qlab/server image. Existing files are kept.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p secrets
chmod 700 secrets
if command -v qlab-server >/dev/null; then server=(qlab-server)
elif [ -x ../build/server/qlab-server ]; then server=(../build/server/qlab-server)
else server=(docker run --rm -v "$PWD/secrets:/secrets" --entrypoint qlab-server qlab/server:latest); fi
where=secrets
[ "${server[0]}" = docker ] && where=/secrets

make_token() {  # ROLE NAME FILE
  [ -s "secrets/$3" ] && { echo "secrets/$3 exists, kept"; return; }
  (umask 077; "${server[@]}" token create --auth-file "$where/auth" --role "$1" --name "$2" > "secrets/$3")
  echo "secrets/$3: a token of role $1"
}
make_token worker workers worker.token
make_token viewer prometheus prometheus.token
make_token admin admin admin.token
