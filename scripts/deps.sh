#!/usr/bin/env bash
# Installs the Debian 12 packages Squall needs, skipping what is already there.
#   scripts/deps.sh build    compilers and libraries
#   scripts/deps.sh test     the above plus the clients and servers the tests drive
#   scripts/deps.sh fuzz     the above plus clang's libFuzzer runtime
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."  # tests/node below is relative to the checkout
what=${1:-build}

build_pkgs=(build-essential cmake ninja-build pkg-config
  libevent-dev libnghttp2-dev libssl-dev libre2-dev libtomlplusplus-dev
  zlib1g-dev libbrotli-dev libzstd-dev libwslay-dev libkainjow-mustache-dev nlohmann-json3-dev)
test_pkgs=(catch2 curl)
fuzz_pkgs=(clang libclang-rt-14-dev llvm)

pkgs=("${build_pkgs[@]}")
case "$what" in
  build) ;;
  test) pkgs+=("${test_pkgs[@]}") ;;
  fuzz) pkgs+=("${test_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
  *) echo "usage: $0 build|test|fuzz" >&2; exit 2 ;;
esac

# The tests' WebSocket peers (node's ws, pinned by tests/node/package-lock.json).
node_modules() {
  [[ $what == build ]] && return 0
  local dir=tests/node
  [[ -d $dir/node_modules/ws && $dir/node_modules/.package-lock.json -nt $dir/package-lock.json ]] && return 0
  echo "deps.sh: npm ci in $dir"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}

missing=()
if [[ $what != build ]]; then
  # node and npm from Debian, unless the machine already has them (a nodejs build that
  # bundles npm conflicts with Debian's npm package).
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
fi
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  node_modules
  exit 0
fi
if [[ $(id -u) != 0 ]]; then
  echo "deps.sh: missing packages: ${missing[*]} (run as root, or install them)" >&2
  exit 1
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Debian's postinst scripts would start system services (nginx on :80); stop that.
created_policy=0
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  created_policy=1
fi
trap '[[ $created_policy == 1 ]] && rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
node_modules
