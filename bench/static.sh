#!/usr/bin/env bash
# Static files, side by side: Squall's `static` route vs nginx (sendfile, open_file_cache), one
# worker each, the same 16 KiB and 1 MiB files, same run, interleaved rounds. See bench/README.md.
#   bench/static.sh [--rounds N] [--duration S] [--warmup S] [--conns-16k C] [--conns-1m C] [--squall PATH] [--out DIR]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=5 duration=5 warmup=1 c16k=50 c1m=16 squall=$root/build/squall out=
while (($#)); do
  case $1 in
    --rounds) rounds=$2 ;; --duration) duration=$2 ;; --warmup) warmup=$2 ;;
    --conns-16k) c16k=$2 ;; --conns-1m) c1m=$2 ;; --squall) squall=$2 ;; --out) out=$2 ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
  esac
  shift 2
done
squall=$(realpath "$squall")
[[ -x $squall ]] || { echo "no squall binary at $squall (run ./dev.sh build)" >&2; exit 1; }
for t in nginx wrk taskset python3 sha256sum; do command -v $t >/dev/null || { echo "missing: $t" >&2; exit 1; }; done
dir=${out:-${BENCH_STATE:-/var/tmp/squall-bench}/static/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$dir/nginx-tmp" "$dir/www" && dir=$(realpath "$dir")
lua=$root/../shared/bench/lib/wrk_json.lua   # prints one "WRKJSON {...}" line at the end of a wrk run
[[ -f $lua ]] || { echo "missing $lua" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || true

# The files: random bytes (nothing compresses, nothing is special), made once per run.
declare -A bytes=([16k]=16384 [1m]=1048576) conns=([16k]=$c16k [1m]=$c1m)
sizes=(16k 1m)
for z in "${sizes[@]}"; do head -c "${bytes[$z]}" /dev/urandom >"$dir/www/$z.bin"; done

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
    sendfile on;
    tcp_nopush on;
    open_file_cache max=1000 inactive=60s;
    open_file_cache_valid 60s;
    default_type application/octet-stream;
    client_body_temp_path $dir/nginx-tmp/body;
    proxy_temp_path       $dir/nginx-tmp/proxy;
    fastcgi_temp_path     $dir/nginx-tmp/fastcgi;
    uwsgi_temp_path       $dir/nginx-tmp/uwsgi;
    scgi_temp_path        $dir/nginx-tmp/scgi;
    server {
        listen 127.0.0.1:$nport;
        root $dir/www;
        location / { }
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
path_prefix = "/"
static = { root = "$dir/www" }
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
for s in nginx squall; do  # wait for the port, then check every file comes back byte for byte
  python3 - "${port[$s]}" "$s" "$dir/www" "${sizes[@]}" <<'EOF' || exit 1
import sys, time, urllib.request
port, name, www, sizes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
for _ in range(100):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/{sizes[0]}.bin", timeout=2).read()
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit(f"{name} did not answer on 127.0.0.1:{port}")
for z in sizes:
    got = urllib.request.urlopen(f"http://127.0.0.1:{port}/{z}.bin", timeout=5).read()
    if got != open(f"{www}/{z}.bin", "rb").read():
        sys.exit(f"{name}: /{z}.bin came back different ({len(got)} bytes)")
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
load() {  # load SERVER SIZE SECONDS -> wrk output
  taskset -c 1 wrk -t1 -c"${conns[$2]}" -d"$3"s --latency -s "$lua" "http://127.0.0.1:${port[$1]}/$2.bin"
}

runs=$dir/runs.jsonl; : >"$runs"
for ((r = 1; r <= rounds; r++)); do
  order=(nginx squall); ((r % 2)) || order=(squall nginx)
  for z in "${sizes[@]}"; do
    for s in "${order[@]}"; do
      kill -0 "${pid[$s]}" 2>/dev/null || { echo "$s died; see $dir/$s.log" >&2; exit 1; }
      load "$s" "$z" "$warmup" >/dev/null
      t0=$(ticks "${pid[$s]}")
      o=$(load "$s" "$z" "$duration")
      t1=$(ticks "${pid[$s]}")
      printf '%s\n' "$o" >>"$dir/wrk-$s-$z.log"
      j=$(sed -n 's/^WRKJSON //p' <<<"$o")
      [[ -n $j ]] || { echo "wrk output not understood:" >&2; echo "$o" >&2; exit 1; }
      echo "{\"round\":$r,\"server\":\"$s\",\"size\":\"$z\",\"bytes\":${bytes[$z]},\"conns\":${conns[$z]},\"cpu_ticks\":$((t1 - t0)),\"wrk\":$j}" >>"$runs"
      echo "round $r $z c${conns[$z]} $s: $(grep -m1 'Requests/sec' <<<"$o")" >&2
    done
  done
done

python3 - "$dir" "$(getconf CLK_TCK)" "$rounds" "$duration" "$warmup" <<'EOF'
import json, statistics as st, sys
d, hz, rounds, dur, warm = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
runs = [json.loads(l) for l in open(f"{d}/runs.jsonl")]
for r in runs:
    w = r["wrk"]
    secs = w["duration_us"] / 1e6
    r["rps"] = w["requests"] / secs
    r["mib_s"] = w["bytes"] / secs / 2**20
    r["p99_ms"] = w["p99_us"] / 1000
    r["cpu_us_per_req"] = r["cpu_ticks"] / hz * 1e6 / w["requests"] if w["requests"] else None
    r["cpu_pct"] = 100 * r["cpu_ticks"] / hz / secs  # of its pinned CPU 0
    r["errors"] = sum(w[k] for k in w if k.startswith("err_"))
med = lambda v: st.median(v) if v else None
rows = []
for z in ("16k", "1m"):
    by = {(r["server"], r["round"]): r for r in runs if r["size"] == z}
    if not by:
        continue
    get = lambda s, k: [r[k] for (n, _), r in sorted(by.items()) if n == s and r[k] is not None]
    ratios = [by["squall", i]["rps"] / by["nginx", i]["rps"] for (n, i) in by
              if n == "nginx" and ("squall", i) in by and by["nginx", i]["rps"]]
    row = {"size": z, "conns": next(iter(by.values()))["conns"], "ratio_squall_nginx": med(ratios),
           "ratios": ratios}
    for s in ("nginx", "squall"):
        for k in ("rps", "mib_s", "p99_ms", "cpu_us_per_req", "cpu_pct"):
            row[f"{s}_{k}"] = med(get(s, k))
        row[f"{s}_errors"] = sum(get(s, "errors"))
    rows.append(row)
f = lambda v, p=0: "n/a" if v is None else f"{v:,.{p}f}"
label = {"16k": "16 KiB", "1m": "1 MiB"}
md = [f"Static files, 1 worker each, servers on CPU 0, wrk -t1 on CPU 1; {rounds} interleaved "
      f"rounds x {dur} s (after a {warm} s warm-up). Medians over rounds; ratio = median of per-round "
      "squall/nginx req/s.", "",
      "| file | conns | nginx req/s | squall req/s | squall/nginx | nginx p99 ms | squall p99 ms "
      "| nginx CPU µs/req | squall CPU µs/req |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
for r in rows:
    md.append(f"| {label[r['size']]} | {r['conns']} | {f(r['nginx_rps'])} | {f(r['squall_rps'])} | "
              f"{f(r['ratio_squall_nginx'], 2)} | {f(r['nginx_p99_ms'], 2)} | {f(r['squall_p99_ms'], 2)} | "
              f"{f(r['nginx_cpu_us_per_req'], 1)} | {f(r['squall_cpu_us_per_req'], 1)} |")
md += ["", "Throughput MiB/s (median): " + ", ".join(
           f"{s} {label[r['size']]} {f(r[f'{s}_mib_s'])}" for r in rows for s in ("nginx", "squall")),
       "", "Server CPU use, % of CPU 0 (median; well below 100 while wrk is busy means other load on "
       "CPU 0): " + ", ".join(f"{s} {label[r['size']]} {f(r[f'{s}_cpu_pct'])}" for r in rows
                              for s in ("nginx", "squall"))]
errs = {f"{s} {label[r['size']]}": r[f"{s}_errors"] for r in rows for s in ("nginx", "squall")
        if r[f"{s}_errors"]}
if errs:
    md += ["", "wrk errors (connect/read/write/status/timeout): " + ", ".join(f"{k}: {v}" for k, v in errs.items())]
open(f"{d}/results.md", "w").write("\n".join(md) + "\n")
json.dump({"rounds": int(rounds), "duration_s": float(dur), "warmup_s": float(warm), "rows": rows,
           "runs": runs}, open(f"{d}/results.json", "w"), indent=1)
print("\n".join(md))
EOF
echo "results: $dir/results.md $dir/results.json" >&2
