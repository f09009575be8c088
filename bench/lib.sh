# shellcheck shell=bash
# Shared by bench/respond.sh and bench/static.sh (sourced): options, scratch folder, nginx and
# Squall configs with the same fairness settings, servers pinned to CPU 0, interleaved wrk rounds
# on CPU 1, summary. See bench/README.md.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=5 duration=5 warmup=1 squall=$root/build/squall out=
declare -A pid=() port=()

# bench_option "$@": one option shared by both scripts (the caller shifts 2 afterwards).
bench_option() {
  case $1 in
    --rounds) rounds=$2 ;; --duration) duration=$2 ;; --warmup) warmup=$2 ;;
    --squall) squall=$2 ;; --out) out=$2 ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
  esac
}

# bench_setup NAME: check the tools and the binary, make the scratch folder $dir (--out, else
# ${BENCH_STATE:-/var/tmp/squall-bench}/NAME/<timestamp>), pick two free ports on 127.0.0.1.
bench_setup() {
  squall=$(realpath "$squall")
  [[ -x $squall ]] || { echo "no squall binary at $squall (run ./dev.sh build)" >&2; exit 1; }
  local t
  for t in nginx wrk taskset python3; do command -v $t >/dev/null || { echo "missing: $t" >&2; exit 1; }; done
  dir=${out:-${BENCH_STATE:-/var/tmp/squall-bench}/$1/$(date +%Y%m%d-%H%M%S)}
  mkdir -p "$dir/nginx-tmp" && dir=$(realpath "$dir")
  lua=$root/../shared/bench/lib/wrk_json.lua   # prints one "WRKJSON {...}" line at the end of a wrk run
  [[ -f $lua ]] || { echo "missing $lua" >&2; exit 1; }
  ulimit -n 65536 2>/dev/null || true
  # bind port 0 twice, read what the kernel picked
  read -r 'port[nginx]' 'port[squall]' < <(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
}

# shellcheck disable=SC2001  # sed: every line of a multi-line string
indent() { [[ -z $2 ]] || sed "s/^/$1/" <<<"$2"; }  # indent PREFIX LINES

# nginx_conf HTTP SERVER: write $dir/nginx.conf (one worker, no access log, long keep-alive);
# HTTP and SERVER are extra directives, one a line, for the http and server blocks.
nginx_conf() {
  {
    cat <<EOF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 10000000;
EOF
    indent '    ' "$1"
    cat <<EOF
    client_body_temp_path $dir/nginx-tmp/body;
    proxy_temp_path       $dir/nginx-tmp/proxy;
    fastcgi_temp_path     $dir/nginx-tmp/fastcgi;
    uwsgi_temp_path       $dir/nginx-tmp/uwsgi;
    scgi_temp_path        $dir/nginx-tmp/scgi;
    server {
        listen 127.0.0.1:${port[nginx]};
EOF
    indent '        ' "$2"
    printf '    }\n}\n'
  } >"$dir/nginx.conf"
}

# squall_conf ROUTE: write $dir/squall.toml (one worker, no per-connection request cap, no access
# log) with one [[route]] holding the ROUTE lines.
squall_conf() {
  cat >"$dir/squall.toml" <<EOF
[server]
workers = 1

[server.limits]
max_requests_per_connection = 0

[log]
access = "off"

[[listener]]
address = "127.0.0.1:${port[squall]}"

[[route]]
$1
EOF
}

# Stop the servers on exit, error or Ctrl-C: SIGTERM, then SIGKILL after 5 s.
cleanup() {
  trap - EXIT INT TERM
  local p
  for p in "${pid[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pid[@]}"; do
    for _ in {1..50}; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
}

# start_servers: both servers on CPU 0 from $dir's configs, started once (taskset execs, so $! is
# the server's own PID); logs in $dir/nginx.log and $dir/squall.log.
start_servers() {
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  taskset -c 0 nginx -e "$dir/nginx-error.log" -p "$dir" -c "$dir/nginx.conf" >"$dir/nginx.log" 2>&1 &
  pid[nginx]=$!
  taskset -c 0 "$squall" run "$dir/squall.toml" >"$dir/squall.log" 2>&1 &
  pid[squall]=$!
  echo "scratch: $dir (nginx :${port[nginx]} pid ${pid[nginx]}, squall :${port[squall]} pid ${pid[squall]})" >&2
}

# expect_body SERVER PATH <BODY: wait (up to ~10 s) for SERVER to answer GET PATH, then check the
# reply is BODY byte for byte; exits the script if not.
expect_body() {
  python3 -c 'import sys, time, urllib.request
port, name, path = sys.argv[1:]
want = sys.stdin.buffer.read()
for _ in range(100):
    try:
        got = urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2).read()
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit(f"{name} did not answer on 127.0.0.1:{port}")
if got != want:
    sys.exit(f"{name}: {path} came back different ({len(got)} bytes: {got[:40]!r})")' \
    "${port[$1]}" "$1" "$2" || exit 1
}

# utime+stime (clock ticks) of a server process and its children (nginx master + worker).
ticks() {
  local p sum=0 f
  for p in "$1" $(cat /proc/"$1"/task/*/children 2>/dev/null); do
    f=$(cat /proc/"$p"/stat 2>/dev/null) || continue
    f=${f##*) }; set -- $f          # fields from 3 (state) on; utime=14, stime=15 -> $12, $13
    sum=$((sum + ${12} + ${13}))
  done
  echo $sum
}

# shellcheck disable=SC2154  # case_* are set by the caller's bench_case
load() {  # load SERVER SECONDS -> wrk output, for the current case
  taskset -c 1 wrk -t1 -c"$case_conns" -d"$2"s --latency -s "$lua" "http://127.0.0.1:${port[$1]}$case_path"
}

# measure CASE...: $rounds rounds; in each, for each CASE, a warm-up and a measured wrk run
# (-t1, CPU 1) against both servers back to back, order swapped every round. The caller's
# bench_case CASE sets: case_conns, case_path (URL path), case_tag (wrk-<server>-<tag>.log),
# case_label (progress line) and case_fields (its JSON fields in runs.jsonl).
# shellcheck disable=SC2154  # case_* as above
measure() {
  local r c s o j t0 t1 order
  : >"$dir/runs.jsonl"
  for ((r = 1; r <= rounds; r++)); do
    order=(nginx squall); ((r % 2)) || order=(squall nginx)
    for c in "$@"; do
      bench_case "$c"
      for s in "${order[@]}"; do
        kill -0 "${pid[$s]}" 2>/dev/null || { echo "$s died; see $dir/$s.log" >&2; exit 1; }
        load "$s" "$warmup" >/dev/null
        t0=$(ticks "${pid[$s]}")
        o=$(load "$s" "$duration")
        t1=$(ticks "${pid[$s]}")
        printf '%s\n' "$o" >>"$dir/wrk-$s-$case_tag.log"
        j=$(sed -n 's/^WRKJSON //p' <<<"$o")
        [[ -n $j ]] || { echo "wrk output not understood:" >&2; echo "$o" >&2; exit 1; }
        echo "{\"round\":$r,\"server\":\"$s\",$case_fields,\"cpu_ticks\":$((t1 - t0)),\"wrk\":$j}" >>"$dir/runs.jsonl"
        echo "round $r $case_label $s: $(grep -m1 'Requests/sec' <<<"$o")" >&2
      done
    done
  done
}

# summarize ARGS...: bench/summarize.py on $dir with the run's rounds/duration/warm-up and ARGS.
summarize() {
  python3 "$root/bench/summarize.py" "$dir" --rounds "$rounds" --duration "$duration" --warmup "$warmup" "$@"
  echo "results: $dir/results.md $dir/results.json" >&2
}
