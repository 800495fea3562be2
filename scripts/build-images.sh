#!/usr/bin/env bash
# Build berth's local images with `docker import` of rootfs tarballs made from
# this machine's Debian packages (there is no registry to pull a base image
# from, so no `docker build`).
#
#   berth-haproxy:local            /usr/sbin/haproxy + the libraries ldd lists
#   berth-test/app:{v1,v2,v3}      static busybox httpd serving /www (healthy)
#   berth-test/app:never-healthy   serves / but /healthz is 404
#   berth-test/app:crash           prints a fatal error and exits 1 at once
#   berth-test/app:dies-later      healthy for $DIES_AFTER s (default 5), exit 1
#
# Every image carries the label berth.build-hash: a sha256 over the rootfs
# tarball (built reproducibly: sorted, fixed mtime and owners) and the image
# config. An image whose label matches is left alone, so re-runs are cheap and
# change nothing; anything that changes (haproxy upgraded by apt, a file under
# images/, this recipe) rebuilds just the affected images.
#
# Usage: scripts/build-images.sh [--force] [NAME...]
#   NAME filters by substring, e.g. `haproxy`, `app:v1`, `app` (default: all).
# Needs: docker (running daemon), haproxy, busybox-static; run scripts/setup.sh
# first on a fresh machine.
set -euo pipefail
umask 022
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGES_DIR=$ROOT/images
PREFIX=${BERTH_LOG_PREFIX:-build-images}
# Bump when the recipe changes in a way the content hash would not notice.
RECIPE_VERSION=1
# Fixed timestamp for every file in the tarballs (reproducible hashes).
TAR_MTIME=@1704067200   # 2024-01-01T00:00:00Z

HAPROXY_BIN=${HAPROXY_BIN:-/usr/sbin/haproxy}
BUSYBOX_BIN=${BUSYBOX_BIN:-/bin/busybox}

log() { echo "$PREFIX: $*"; }
die() { echo "$PREFIX: error: $*" >&2; exit 1; }

FORCE=0
FILTERS=()
while (($#)); do
    case $1 in
        --force) FORCE=1 ;;
        -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) FILTERS+=("$1") ;;
    esac
    shift
done

wanted() {
    ((${#FILTERS[@]} == 0)) && return 0
    local f
    for f in "${FILTERS[@]}"; do [[ $1 == *"$f"* ]] && return 0; done
    return 1
}

command -v docker >/dev/null || die "docker CLI not found (run scripts/setup.sh)"
docker info >/dev/null 2>&1 || die "docker daemon not reachable (run scripts/setup.sh)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/berth-images.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# --- helpers -----------------------------------------------------------------

# new_rootfs NAME -> path of an empty rootfs dir (mode 755: mktemp's 700 would
# end up as the mode of / in the image).
new_rootfs() {
    local r=$WORK/$1
    rm -rf "$r"
    mkdir -p "$r"
    chmod 755 "$r"
    echo "$r"
}

# copy_tree SRC DST: copy a directory of static image files, normalising modes
# (git checkouts do not keep them reliably; executables keep their x bit).
copy_tree() {
    cp -R "$1/." "$2/"
    chmod -R u+rwX,go+rX,go-w "$2"
}

# add_host_file ROOTFS PATH: copy PATH's real file to the same real path in
# ROOTFS; when PATH itself goes through symlinks (e.g. /lib64/ld-linux...), add
# a symlink at PATH's canonical location so the name ldd printed resolves too.
add_host_file() {
    local r=$1 p=$2 real alias
    real=$(readlink -f "$p")
    [[ -f $real ]] || die "$p: not a file"
    mkdir -p "$r$(dirname "$real")"
    cp -L "$real" "$r$real"
    chmod "$(stat -c %a "$real")" "$r$real"
    alias="$(readlink -f "$(dirname "$p")")/$(basename "$p")"
    if [[ $alias != "$real" && ! -e $r$alias ]]; then
        mkdir -p "$r$(dirname "$alias")"
        ln -s "$real" "$r$alias"
    fi
}

# Libraries (and the dynamic loader) a binary needs, one absolute path a line.
ldd_paths() {
    local out
    out=$(ldd "$1") || die "ldd $1 failed"
    if grep -q 'not found' <<<"$out"; then
        die "ldd $1: missing libraries:"$'\n'"$(grep 'not found' <<<"$out")"
    fi
    awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$out" | sort -u
}

# import_image NAME ROOTFS CHANGE...: reproducible tarball of ROOTFS, hash it
# with the config changes, `docker import` unless the existing image has the
# same berth.build-hash label.
import_image() {
    local name=$1 rootfs=$2
    shift 2
    local tarball=$WORK/image.tar hash current old_id new_id c
    local args=()
    tar --sort=name --mtime="$TAR_MTIME" --owner=0 --group=0 --numeric-owner \
        --format=gnu -C "$rootfs" -cf "$tarball" .
    hash=$({
        echo "recipe=$RECIPE_VERSION"
        sha256sum <"$tarball" | cut -d' ' -f1
        printf '%s\n' "$@"
    } | sha256sum | cut -d' ' -f1)
    current=$(docker image inspect -f '{{index .Config.Labels "berth.build-hash"}}' "$name" 2>/dev/null || true)
    old_id=$(docker image inspect -f '{{.Id}}' "$name" 2>/dev/null || true)
    if ((FORCE == 0)) && [[ $current == "$hash" ]]; then
        log "image $name up to date (${old_id:7:12})"
        rm -f "$tarball"
        return 0
    fi
    for c in "$@"; do args+=(--change "$c"); done
    args+=(--change "LABEL berth.build-hash=$hash")
    new_id=$(docker import "${args[@]}" "$tarball" "$name")
    rm -f "$tarball"
    log "image $name built (${new_id:7:12}, $(docker image inspect -f '{{.Size}}' "$name" | awk '{printf "%.1f MB", $1/1e6}'))"
    # Drop the image this tag pointed at before, unless a container still uses it.
    if [[ -n $old_id && $old_id != "$new_id" ]]; then
        docker rmi "$old_id" >/dev/null 2>&1 || true
    fi
}

# --- berth-haproxy:local -----------------------------------------------------

build_haproxy() {
    local name=berth-haproxy:local
    wanted "$name" || return 0
    [[ -x $HAPROXY_BIN ]] || die "$HAPROXY_BIN not found (apt-get install haproxy)"
    local r version lib
    r=$(new_rootfs haproxy)

    # Debian 12 is merged-/usr: /bin, /sbin, /lib, /lib64 are links into /usr.
    mkdir -p "$r"/usr/{bin,sbin,lib,lib64}
    ln -s usr/bin "$r/bin"
    ln -s usr/sbin "$r/sbin"
    ln -s usr/lib "$r/lib"
    ln -s usr/lib64 "$r/lib64"

    add_host_file "$r" "$HAPROXY_BIN"
    while read -r lib; do add_host_file "$r" "$lib"; done < <(ldd_paths "$HAPROXY_BIN")

    copy_tree "$IMAGES_DIR/haproxy/rootfs" "$r"
    mkdir -p "$r"/{root,tmp,run/haproxy,var/lib/haproxy,usr/local/etc/haproxy,dev,proc,sys}
    ln -s ../run "$r/var/run"
    chmod 1777 "$r/tmp"
    chmod 700 "$r/root"

    version=$("$HAPROXY_BIN" -v | awk 'NR == 1 { print $3 }')
    import_image "$name" "$r" \
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        'WORKDIR /var/lib/haproxy' \
        'CMD ["/usr/sbin/haproxy","-W","-db","-f","/usr/local/etc/haproxy/haproxy.cfg"]' \
        "LABEL org.opencontainers.image.title=berth-haproxy" \
        "LABEL org.opencontainers.image.version=$version"
}

# --- berth-test/app:* --------------------------------------------------------

build_app_base() {
    [[ -x $BUSYBOX_BIN ]] || die "$BUSYBOX_BIN not found (apt-get install busybox-static)"
    if ldd "$BUSYBOX_BIN" >/dev/null 2>&1; then
        die "$BUSYBOX_BIN is dynamically linked; install busybox-static (not busybox)"
    fi
    local r applet
    r=$(new_rootfs app)
    mkdir -p "$r"/{bin,usr,etc,app,www,data,root,tmp,run,var,dev,proc,sys}
    cp -L "$BUSYBOX_BIN" "$r/bin/busybox"
    chmod 755 "$r/bin/busybox"
    # Same as `busybox --install -s`, but relative links inside the rootfs.
    for applet in $("$BUSYBOX_BIN" --list); do
        [[ $applet == busybox ]] && continue
        ln -s busybox "$r/bin/$applet"
    done
    ln -s bin "$r/sbin"
    ln -s ../bin "$r/usr/bin"
    ln -s ../bin "$r/usr/sbin"
    ln -s ../run "$r/var/run"
    copy_tree "$IMAGES_DIR/app/rootfs" "$r"
    chmod 755 "$r/app/run.sh"
    chmod 1777 "$r/tmp"
    chmod 700 "$r/root"
    echo "$r"
}

# build_app TAG MODE HEALTHZ(yes|no) [EXTRA_CHANGE...]
build_app() {
    local tag=$1 mode=$2 healthz=$3 r=$APP_ROOTFS
    shift 3
    local name=berth-test/app:$tag
    wanted "$name" || return 0
    rm -rf "$r/www"
    mkdir -p "$r/www"
    printf 'app %s\n' "$tag" >"$r/www/index.html"
    [[ $healthz == yes ]] && printf 'ok\n' >"$r/www/healthz"
    chmod 644 "$r"/www/*
    import_image "$name" "$r" \
        'ENV PATH=/bin:/sbin:/usr/bin:/usr/sbin' \
        "ENV APP_MODE=$mode" \
        "ENV APP_VERSION=$tag" \
        "$@" \
        'EXPOSE 80' \
        'WORKDIR /www' \
        'CMD ["/app/run.sh"]' \
        "LABEL org.opencontainers.image.title=berth-test-app" \
        "LABEL org.opencontainers.image.version=$tag" \
        "LABEL berth.test.mode=$mode"
}

build_haproxy

app_wanted=0
for t in v1 v2 v3 never-healthy crash dies-later; do
    wanted "berth-test/app:$t" && app_wanted=1
done
if ((app_wanted)); then
    APP_ROOTFS=$(build_app_base)
    build_app v1 serve yes
    build_app v2 serve yes
    build_app v3 serve yes
    build_app never-healthy serve no
    build_app crash crash no
    build_app dies-later dies-later yes 'ENV DIES_AFTER=5'
fi
