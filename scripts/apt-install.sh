# Sourced by the setup scripts: `apt_install PKG...` installs Debian packages on a machine with no
# init system, keeping the packages' maintainer scripts from starting their daemons themselves
# (the setup scripts start what they need). Run as root; callers check that first.
apt_install() {
    local made_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    local apt_opts=(-o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update -qq </dev/null
    DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "$@" </dev/null
    if ((made_policy)); then
        rm -f /usr/sbin/policy-rc.d
        trap - EXIT
    fi
}
