#!/usr/bin/env bash
# Static files, side by side: Squall's `static` route vs nginx (sendfile, open_file_cache), one
# worker each, the same 16 KiB and 1 MiB files, same run, interleaved rounds. See bench/README.md.
#   bench/static.sh [--rounds N] [--duration S] [--warmup S] [--conns-16k C] [--conns-1m C] [--squall PATH] [--out DIR]
set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
declare -A bytes=([16k]=16384 [1m]=1048576) conns=([16k]=50 [1m]=16)
sizes=(16k 1m)
while (($#)); do
  case $1 in
    --conns-16k) conns[16k]=$2 ;; --conns-1m) conns[1m]=$2 ;;
    *) bench_option "$@" ;;
  esac
  shift 2
done
bench_setup static

# The files: random bytes (nothing compresses, nothing is special), made once per run.
mkdir -p "$dir/www"
for z in "${sizes[@]}"; do head -c "${bytes[$z]}" /dev/urandom >"$dir/www/$z.bin"; done

nginx_conf 'sendfile on;
tcp_nopush on;
open_file_cache max=1000 inactive=60s;
open_file_cache_valid 60s;
default_type application/octet-stream;' "root $dir/www;
location / { }"
squall_conf "path_prefix = \"/\"
static = { root = \"$dir/www\" }"
start_servers
for s in nginx squall; do  # every file comes back byte for byte
  for z in "${sizes[@]}"; do expect_body "$s" "/$z.bin" <"$dir/www/$z.bin"; done
done

bench_case() {  # bench_case SIZE
  case_conns=${conns[$1]} case_path=/$1.bin case_tag=$1 case_label="$1 c${conns[$1]}"
  case_fields="\"size\":\"$1\",\"bytes\":${bytes[$1]},\"conns\":${conns[$1]}"
}
measure "${sizes[@]}"
summarize --title "Static files" --key size --column file --label 16k="16 KiB" --label 1m="1 MiB" --mib
