#!/usr/bin/env bash
# Static local reply, side by side: Squall's `respond` route vs nginx's `return 200`, one worker
# each, same run, interleaved rounds. See bench/README.md.
#   bench/respond.sh [--rounds N] [--duration S] [--warmup S] [--conns "50,256"] [--squall PATH] [--out DIR]
set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
conns=50,256
while (($#)); do
  case $1 in
    --conns) conns=$2 ;;
    *) bench_option "$@" ;;
  esac
  shift 2
done
bench_setup respond
body='hello from the benchmark origin\n'  # 32 bytes once \n is a newline

nginx_conf '' "location / { return 200 \"$body\"; }"
squall_conf "respond = { body = \"$body\" }"
start_servers
for s in nginx squall; do expect_body "$s" / < <(printf '%b' "$body"); done

bench_case() {  # bench_case CONNS
  case_conns=$1 case_path=/ case_tag=c$1 case_label=c$1 case_fields="\"conns\":$1"
}
IFS=, read -ra clist <<<"$conns"
measure "${clist[@]}"
summarize --title "Static 32-byte reply"
