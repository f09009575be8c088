#!/usr/bin/env bash
# Smoke test of the Docker image, with no Docker engine and no image registry: builds
# docker/Dockerfile with podman (chroot isolation), runs the image's ENTRYPOINT + CMD under
# chroot as the image's USER on the host network, checks /healthz and / on 127.0.0.1:8080 and
# the image's own HEALTHCHECK command, then stops everything it started. Exits 0 (PASS) or 1.
#
#   docker/smoke.sh            as root on Debian 12, from anywhere in the checkout
#
# What it needs it sets up: podman and debootstrap are installed with apt-get when missing,
# and when no debian:bookworm(-slim) image exists locally one is made once with debootstrap
# (a minimal Debian 12, cached in SMOKE_BASE_DIR) and imported under both names.
#
# Env: SMOKE_TAG (image tag, default localhost/squall:smoke), SMOKE_BASE_DIR (debootstrap cache,
#      default /var/tmp/squall-smoke-base), SMOKE_TIMEOUT (seconds to wait for /healthz once
#      started, default 60), SMOKE_BUILD_TIMEOUT (seconds for the build, default 1800),
#      SMOKE_LOG (log file, default a temporary file), SMOKE_PRINT_SIZE=1 (print the image size).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

tag=${SMOKE_TAG:-localhost/squall:smoke}
base_dir=${SMOKE_BASE_DIR:-/var/tmp/squall-smoke-base}
wait_secs=${SMOKE_TIMEOUT:-60}
build_secs=${SMOKE_BUILD_TIMEOUT:-1800}
log=${SMOKE_LOG:-$(mktemp -t squall-smoke.XXXXXX.log)}
url=http://127.0.0.1:8080

say() { echo "smoke: $*"; }
fail() {
  say "FAIL: $*"
  say "--- last lines of $log ---"
  tail -40 "$log" | sed 's/^/  | /'
  exit 1
}
port_open() { (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; }

[[ $(id -u) == 0 ]] || { say "FAIL: run as root (podman build, chroot and mounts need it)"; exit 1; }
port_open && { say "FAIL: something already listens on 127.0.0.1:8080; stop it first"; exit 1; }

# ---- cleanup: everything below registers what it starts or mounts ----
pid=         # the process group running squall in the image
root=        # the image's mounted root file system
bound=()     # bind mounts inside it
stop_squall() {
  [[ -n $pid ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  pid=
}
cleanup() {
  stop_squall
  local m
  for m in "${bound[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
  bound=()
  [[ -n $root ]] && podman image unmount "$tag" >/dev/null 2>&1
  root=
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ---- 1. tools ----
missing=()
command -v podman >/dev/null || missing+=(podman)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } \
    >>"$log" 2>&1 || fail "apt-get install ${missing[*]} failed"
fi

# ---- 2. base images (the Dockerfile uses debian:bookworm and debian:bookworm-slim) ----
image_exists() { podman image exists "docker.io/library/debian:$1" 2>/dev/null; }
if ! image_exists bookworm && ! image_exists bookworm-slim; then
  if [[ ! -x $base_dir/rootfs/bin/sh ]]; then
    say "no Debian 12 base image: making one with debootstrap (once, a few minutes)"
    rm -rf "$base_dir"
    mkdir -p "$base_dir" || fail "cannot create $base_dir"
    debootstrap --variant=minbase bookworm "$base_dir/rootfs" >>"$log" 2>&1 \
      || { rm -rf "$base_dir"; fail "debootstrap failed"; }
  fi
  tar -C "$base_dir/rootfs" -c . | podman import -q - docker.io/library/debian:bookworm-slim \
    >>"$log" 2>&1 || fail "podman import failed"
fi
for t in bookworm bookworm-slim; do
  image_exists "$t" && continue
  other=bookworm-slim; [[ $t == bookworm-slim ]] && other=bookworm
  podman tag "docker.io/library/debian:$other" "docker.io/library/debian:$t" >>"$log" 2>&1 \
    || fail "cannot tag debian:$t"
done

# ---- 3. build ----
say "building docker/Dockerfile as $tag (log: $log)"
# podman's default OCI image format drops HEALTHCHECK; the Docker format keeps it.
BUILDAH_FORMAT=docker timeout "$build_secs" \
  podman build --pull=never --isolation=chroot -f docker/Dockerfile -t "$tag" . >>"$log" 2>&1 \
  || fail "podman build failed (or took more than ${build_secs}s)"
if [[ ${SMOKE_PRINT_SIZE:-0} == 1 ]]; then
  podman image inspect --format '{{.Size}}' "$tag" | awk '{printf "smoke: image size: %.1f MB\n", $1/1e6}'
fi

# ---- 4. run ENTRYPOINT + CMD as the image's USER, under chroot, on the host network ----
inspect_lines() { podman image inspect --format "$1" "$tag" | sed '/^$/d'; }
root=$(podman image mount "$tag") || { root=; fail "cannot mount the image"; }
mapfile -t cmd < <(inspect_lines '{{range .Config.Entrypoint}}{{println .}}{{end}}')
mapfile -t -O "${#cmd[@]}" cmd < <(inspect_lines '{{range .Config.Cmd}}{{println .}}{{end}}')
mapfile -t envs < <(inspect_lines '{{range .Config.Env}}{{println .}}{{end}}')
user=$(podman image inspect --format '{{.Config.User}}' "$tag")
workdir=$(podman image inspect --format '{{.Config.WorkingDir}}' "$tag")
((${#cmd[@]})) || fail "the image has no ENTRYPOINT or CMD"
spec=()
if [[ -n $user ]]; then
  u=${user%%:*} g=${user#*:}
  [[ $u =~ ^[0-9]+$ ]] || u=$(chroot "$root" id -u "$u") || fail "no user '$user' in the image"
  [[ $user == *:* ]] || g=$(chroot "$root" id -g "$u") || fail "no group for '$user' in the image"
  [[ $g =~ ^[0-9]+$ ]] || g=$(chroot "$root" getent group "$g" | cut -d: -f3)
  spec=(--userspec="$u:$g")
fi
for m in proc dev; do
  mount --bind "/$m" "$root/$m" || fail "cannot bind-mount /$m"
  bound+=("$root/$m")
done
say "running ${cmd[*]} as ${user:-root} in ${workdir:-/}"
# Its own process group (setsid), so squall and anything it starts stop together.
# shellcheck disable=SC2016  # $0 and $@ belong to the inner shell
setsid env -i "${envs[@]}" chroot "${spec[@]}" "$root" \
  /bin/sh -c 'cd "$0" && exec "$@"' "${workdir:-/}" "${cmd[@]}" >>"$log" 2>&1 </dev/null &
pid=$!

# ---- 5. checks ----
deadline=$((SECONDS + wait_secs))
code=
until code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url/healthz") && [[ $code == 200 ]]; do
  kill -0 "$pid" 2>/dev/null || fail "squall exited before /healthz answered"
  ((SECONDS < deadline)) || fail "/healthz did not answer 200 within ${wait_secs}s (last: $code)"
  sleep 0.5
done
say "GET /healthz -> $code"

body=$(curl -s --max-time 5 -w '\n[%{http_code}]' "$url/") || fail "GET / failed"
say "GET / -> $(printf '%s' "$body" | tr '\n' ' ')"
[[ $body == *'[200]' ]] || fail "GET / did not answer 200"

# The image's HEALTHCHECK, run inside the image with its own curl, as its USER.
mapfile -t hc < <(inspect_lines '{{if .HealthCheck}}{{range .HealthCheck.Test}}{{println .}}{{end}}{{end}}')
case ${hc[0]:-} in
  CMD-SHELL) hc_cmd=(/bin/sh -c "${hc[1]:-}") ;;
  CMD) hc_cmd=("${hc[@]:1}") ;;
  *) fail "the image has no HEALTHCHECK (it must be built in the Docker format)" ;;
esac
say "image HEALTHCHECK: ${hc_cmd[*]}"
env -i "${envs[@]}" chroot "${spec[@]}" "$root" "${hc_cmd[@]}" >>"$log" 2>&1
rc=$?
say "HEALTHCHECK as ${user:-root} -> exit $rc"
((rc == 0)) || fail "the HEALTHCHECK command failed"

# ---- 6. stop ----
stop_squall
port_open && fail "127.0.0.1:8080 still open after stopping squall"
cleanup
say "stopped; PASS"
