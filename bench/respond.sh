#!/usr/bin/env bash
# Static local reply, side by side: Squall's `respond` route vs nginx's `return 200`, one worker
# each, same run, interleaved rounds. See bench/README.md.
#   bench/respond.sh [--rounds N] [--duration S] [--warmup S] [--conns "50,256"] [--squall PATH] [--out DIR]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=5 duration=5 warmup=1 conns=50,256 squall=$root/build/squall out=
while (($#)); do
  case $1 in
    --rounds) rounds=$2 ;; --duration) duration=$2 ;; --warmup) warmup=$2 ;;
    --conns) conns=$2 ;; --squall) squall=$2 ;; --out) out=$2 ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
  esac
  shift 2
done
squall=$(realpath "$squall")
[[ -x $squall ]] || { echo "no squall binary at $squall (run ./dev.sh build)" >&2; exit 1; }
for t in nginx wrk taskset python3; do command -v $t >/dev/null || { echo "missing: $t" >&2; exit 1; }; done
dir=${out:-${BENCH_STATE:-/var/tmp/squall-bench}/respond/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$dir/nginx-tmp" && dir=$(realpath "$dir")
lua=$root/../shared/bench/lib/wrk_json.lua   # prints one "WRKJSON {...}" line at the end of a wrk run
[[ -f $lua ]] || { echo "missing $lua" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || true
body='hello from the benchmark origin\n'  # 32 bytes once \n is a newline

# Two free ports on 127.0.0.1 (bind port 0, read what the kernel picked).
read -r nport sport < <(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])')

cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 10000000;
    client_body_temp_path $dir/nginx-tmp/body;
    proxy_temp_path       $dir/nginx-tmp/proxy;
    fastcgi_temp_path     $dir/nginx-tmp/fastcgi;
    uwsgi_temp_path       $dir/nginx-tmp/uwsgi;
    scgi_temp_path        $dir/nginx-tmp/scgi;
    server {
        listen 127.0.0.1:$nport;
        location / { return 200 "$body"; }
    }
}
EOF
cat >"$dir/squall.toml" <<EOF
[server]
workers = 1

[server.limits]
max_requests_per_connection = 0

[log]
access = "off"

[[listener]]
address = "127.0.0.1:$sport"

[[route]]
respond = { body = "$body" }
EOF

declare -A pid port=([nginx]=$nport [squall]=$sport)
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
trap cleanup EXIT
trap 'exit 130' INT TERM

# Servers on CPU 0 (taskset execs, so $! is the server's own PID), started once.
taskset -c 0 nginx -e "$dir/nginx-error.log" -p "$dir" -c "$dir/nginx.conf" >"$dir/nginx.log" 2>&1 &
pid[nginx]=$!
taskset -c 0 "$squall" run "$dir/squall.toml" >"$dir/squall.log" 2>&1 &
pid[squall]=$!
for s in nginx squall; do  # wait for the port, then check the reply body
  python3 - "${port[$s]}" "$s" <<'EOF' || exit 1
import sys, time, urllib.request
port, name = sys.argv[1], sys.argv[2]
for _ in range(100):
    try:
        got = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit(f"{name} did not answer on 127.0.0.1:{port}")
if got != b"hello from the benchmark origin\n":
    sys.exit(f"{name}: unexpected body {got!r}")
EOF
done
echo "scratch: $dir (nginx :$nport pid ${pid[nginx]}, squall :$sport pid ${pid[squall]})" >&2

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
load() {  # load SERVER CONNS SECONDS -> wrk output
  taskset -c 1 wrk -t1 -c"$2" -d"$3"s --latency -s "$lua" "http://127.0.0.1:${port[$1]}/"
}

runs=$dir/runs.jsonl; : >"$runs"
IFS=, read -ra clist <<<"$conns"
for ((r = 1; r <= rounds; r++)); do
  order=(nginx squall); ((r % 2)) || order=(squall nginx)
  for c in "${clist[@]}"; do
    for s in "${order[@]}"; do
      kill -0 "${pid[$s]}" 2>/dev/null || { echo "$s died; see $dir/$s.log" >&2; exit 1; }
      load "$s" "$c" "$warmup" >/dev/null
      t0=$(ticks "${pid[$s]}")
      o=$(load "$s" "$c" "$duration")
      t1=$(ticks "${pid[$s]}")
      printf '%s\n' "$o" >>"$dir/wrk-$s-c$c.log"
      j=$(sed -n 's/^WRKJSON //p' <<<"$o")
      [[ -n $j ]] || { echo "wrk output not understood:" >&2; echo "$o" >&2; exit 1; }
      echo "{\"round\":$r,\"server\":\"$s\",\"conns\":$c,\"cpu_ticks\":$((t1 - t0)),\"wrk\":$j}" >>"$runs"
      echo "round $r c$c $s: $(grep -m1 'Requests/sec' <<<"$o")" >&2
    done
  done
done

python3 - "$dir" "$(getconf CLK_TCK)" "$rounds" "$duration" "$warmup" <<'EOF'
import json, statistics as st, sys
d, hz, rounds, dur, warm = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
runs = [json.loads(l) for l in open(f"{d}/runs.jsonl")]
for r in runs:
    w = r["wrk"]
    r["rps"] = w["requests"] / (w["duration_us"] / 1e6)
    r["p99_ms"] = w["p99_us"] / 1000
    r["cpu_us_per_req"] = r["cpu_ticks"] / hz * 1e6 / w["requests"] if w["requests"] else None
    r["cpu_pct"] = 100 * r["cpu_ticks"] / hz / (w["duration_us"] / 1e6)  # of its pinned CPU 0
    r["errors"] = sum(w[k] for k in w if k.startswith("err_"))
med = lambda v: st.median(v) if v else None
rows = []
for c in sorted({r["conns"] for r in runs}):
    by = {(r["server"], r["round"]): r for r in runs if r["conns"] == c}
    get = lambda s, k: [r[k] for (n, _), r in sorted(by.items()) if n == s and r[k] is not None]
    ratios = [by["squall", i]["rps"] / by["nginx", i]["rps"] for (n, i) in by
              if n == "nginx" and ("squall", i) in by]
    row = {"conns": c, "ratio_squall_nginx": med(ratios), "ratios": ratios}
    for s in ("nginx", "squall"):
        for k in ("rps", "p99_ms", "cpu_us_per_req", "cpu_pct"):
            row[f"{s}_{k}"] = med(get(s, k))
        row[f"{s}_errors"] = sum(get(s, "errors"))
    rows.append(row)
f = lambda v, p=0: "n/a" if v is None else f"{v:,.{p}f}"
md = [f"Static 32-byte reply, 1 worker each, servers on CPU 0, wrk -t1 on CPU 1; {rounds} interleaved "
      f"rounds x {dur} s (after a {warm} s warm-up). Medians over rounds; ratio = median of per-round "
      "squall/nginx req/s.", "",
      "| conns | nginx req/s | squall req/s | squall/nginx | nginx p99 ms | squall p99 ms "
      "| nginx CPU µs/req | squall CPU µs/req |",
      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
for r in rows:
    md.append(f"| {r['conns']} | {f(r['nginx_rps'])} | {f(r['squall_rps'])} | "
              f"{f(r['ratio_squall_nginx'], 2)} | {f(r['nginx_p99_ms'], 2)} | {f(r['squall_p99_ms'], 2)} | "
              f"{f(r['nginx_cpu_us_per_req'], 1)} | {f(r['squall_cpu_us_per_req'], 1)} |")
md += ["", "Server CPU use, % of CPU 0 (median; well below 100 while wrk is busy means other load on "
       "CPU 0): " + ", ".join(f"{s} c{r['conns']} {f(r[f'{s}_cpu_pct'])}" for r in rows for s in ("nginx", "squall"))]
errs = {f"{s} c{r['conns']}": r[f"{s}_errors"] for r in rows for s in ("nginx", "squall") if r[f"{s}_errors"]}
if errs:
    md += ["", "wrk errors (connect/read/write/status/timeout): " + ", ".join(f"{k}: {v}" for k, v in errs.items())]
open(f"{d}/results.md", "w").write("\n".join(md) + "\n")
json.dump({"rounds": int(rounds), "duration_s": float(dur), "warmup_s": float(warm), "rows": rows,
           "runs": runs}, open(f"{d}/results.json", "w"), indent=1)
print("\n".join(md))
EOF
echo "results: $dir/results.md $dir/results.json" >&2
