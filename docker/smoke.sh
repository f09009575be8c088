#!/usr/bin/env bash
# Smoke test of the Docker image without a Docker engine: builds docker/Dockerfile with
# ../shared/tools/docker-smoke.sh (podman, chroot isolation), runs the image's ENTRYPOINT+CMD on
# the host network, and checks it serves /healthz and / on 127.0.0.1:8080. Exits 0 or 1.
#   docker/smoke.sh                      (as root; SMOKE_PRINT_SIZE=1 prints the image size)
# Env: SMOKE_TIMEOUT (seconds to wait for /healthz once the build is done, default 60),
#      SMOKE_BUILD_TIMEOUT (seconds allowed for the build, default 1800), SMOKE_LOG (log file).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tool=../shared/tools/docker-smoke.sh
url=http://127.0.0.1:8080
wait_secs=${SMOKE_TIMEOUT:-60}
build_secs=${SMOKE_BUILD_TIMEOUT:-1800}
log=${SMOKE_LOG:-$(mktemp -t squall-smoke.XXXXXX.log)}

say() { echo "smoke: $*"; }
fail() { say "FAIL: $*"; say "--- last lines of $log ---"; tail -40 "$log" | sed 's/^/  | /'; exit 1; }

[[ -x $tool || -f $tool ]] || { say "FAIL: $tool not found"; exit 1; }
if (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; then
  say "FAIL: something already listens on 127.0.0.1:8080; stop it first"; exit 1
fi
command -v curl >/dev/null || { apt-get install -y -qq curl >/dev/null || exit 1; }

pid=
stop() {
  [[ -n $pid ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  pid=
}
trap stop EXIT
trap 'exit 1' INT TERM

# podman's default OCI image format drops HEALTHCHECK; the Docker format keeps it.
export BUILDAH_FORMAT=${BUILDAH_FORMAT:-docker}
say "building and running the image (log: $log)"
# Own process group (setsid), so the build, chroot and squall can all be stopped together.
setsid bash "$tool" docker/Dockerfile . >"$log" 2>&1 </dev/null &
pid=$!

# Wait for the build to finish: the tool prints "docker-smoke: running ..." just before exec.
deadline=$((SECONDS + build_secs))
until grep -q '^docker-smoke: running' "$log"; do
  kill -0 "$pid" 2>/dev/null || fail "build/run exited early"
  ((SECONDS < deadline)) || fail "build not done after ${build_secs}s"
  sleep 1
done
grep '^image size:' "$log" | sed 's/^/smoke: /'
grep '^docker-smoke: running' "$log" | sed 's/^/smoke: /'

deadline=$((SECONDS + wait_secs))
until code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url/healthz") && [[ $code == 200 ]]; do
  kill -0 "$pid" 2>/dev/null || fail "squall exited before /healthz answered"
  ((SECONDS < deadline)) || fail "/healthz did not answer 200 within ${wait_secs}s (last: $code)"
  sleep 0.5
done
say "GET /healthz -> $code"

body=$(curl -s --max-time 5 -w '\n[%{http_code}]' "$url/") || fail "GET / failed"
say "GET / -> $(printf '%s' "$body" | tr '\n' ' ')"
[[ $body == *'[200]' ]] || fail "GET / did not answer 200"

# The image's HEALTHCHECK command, run inside the image (its curl, as its USER) via chroot.
tag=${SMOKE_TAG:-localhost/squall:smoke}
hc=$(podman image inspect --format '{{json .Config.Healthcheck}}' "$tag" 2>/dev/null)
[[ -z $hc || $hc == null ]] && hc=$(podman image inspect --format '{{json .HealthCheck}}' "$tag" 2>/dev/null)
say "image HEALTHCHECK: ${hc:-none}"
hc_cmd=$(printf '%s' "$hc" | python3 -c 'import json,sys
t=(json.load(sys.stdin) or {}).get("Test") or []
print(t[1] if t[:1]==["CMD-SHELL"] else " ".join(t[1:]) if t[:1]==["CMD"] else "")' 2>/dev/null)
[[ -n $hc_cmd ]] || fail "image has no HEALTHCHECK (build with BUILDAH_FORMAT=docker)"
root=$(podman image mount "$tag") || fail "cannot mount the image"
uid=$(chroot "$root" id -u squall) && gid=$(chroot "$root" id -g squall) || { podman image unmount "$tag" >/dev/null; fail "no user squall in the image"; }
chroot --userspec="$uid:$gid" "$root" /bin/sh -c "$hc_cmd"; rc=$?
podman image unmount "$tag" >/dev/null 2>&1
say "healthcheck in image as $uid:$gid: sh -c '$hc_cmd' -> exit $rc"
((rc == 0)) || fail "healthcheck command failed"

stop
if (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; then fail "port 8080 still open after stop"; fi
say "stopped; PASS"
