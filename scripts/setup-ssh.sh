#!/usr/bin/env bash
# Pull replication needs: restic, an SSH client, and (for the tests' second sshd on loopback)
# openssh-server. Installs whatever is missing with apt-get (as root) and prepares
# sshd's privilege-separation directory. Starts no daemon. Idempotent: a second run changes nothing.
#
# Usage: scripts/setup-ssh.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh"
export LC_ALL=C
export DEBIAN_FRONTEND=noninteractive

log() { echo "setup-ssh: $*"; }
die() { echo "setup-ssh: error: $*" >&2; exit 1; }

have() {
    case $1 in
        restic) command -v restic >/dev/null ;;
        openssh-server) [[ -x /usr/sbin/sshd ]] ;;
        openssh-client) command -v ssh >/dev/null && command -v ssh-keygen >/dev/null && command -v sftp >/dev/null ;;
    esac
}

missing=()
for pkg in restic openssh-client openssh-server; do
    have "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
    log "packages ok ($(restic version | cut -d' ' -f1-2))"
else
    [[ $(id -u) == 0 ]] || die "missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
    log "installing ${missing[*]}"
    apt_install "${missing[@]}"
    for pkg in "${missing[@]}"; do
        have "$pkg" || die "$pkg still missing after apt-get install"
    done
    log "packages installed"
fi

# sshd refuses to start without its privilege-separation directory (normally made by systemd).
if [[ ! -d /run/sshd ]]; then
    if [[ $(id -u) == 0 ]]; then
        mkdir -p /run/sshd && chmod 755 /run/sshd
        log "created /run/sshd"
    else
        log "warning: /run/sshd is missing and this is not root; the replication tests will be skipped"
    fi
fi
