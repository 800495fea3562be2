#!/usr/bin/env bash
# Debian's prometheus and prometheus-alertmanager, for the side-by-side alert benchmark only
# (`npm run bench:alert`); the tests don't need them. Idempotent; installs only when missing (root).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh"
if command -v prometheus >/dev/null && command -v prometheus-alertmanager >/dev/null; then
    echo "setup-prometheus: prometheus and alertmanager present"
    exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "setup-prometheus: prometheus or prometheus-alertmanager missing; run as root or: apt-get install prometheus prometheus-alertmanager" >&2
    exit 1
fi
apt_install prometheus prometheus-alertmanager
echo "setup-prometheus: installed"
