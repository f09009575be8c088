#!/usr/bin/env python3
"""Summarise a bench run: DIR/runs.jsonl -> DIR/results.md and DIR/results.json (the table is
also printed). One row per value of --key, nginx and squall side by side; figures are medians over
rounds, the ratio is the median of per-round squall/nginx req/s.

  summarize.py DIR --title TEXT --rounds N --duration S --warmup S [--key FIELD --column NAME
               --label VALUE=TEXT ...] [--mib]
"""
import argparse, json, os, statistics as st

SERVERS = ("nginx", "squall")
p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("dir", help="run folder holding runs.jsonl")
p.add_argument("--title", required=True, help='what was served; starts the first line ("Static files")')
p.add_argument("--rounds", required=True)
p.add_argument("--duration", required=True, help="measured seconds per run")
p.add_argument("--warmup", required=True, help="warm-up seconds per run")
p.add_argument("--key", default="conns", help="runs.jsonl field that picks the row (default conns)")
p.add_argument("--column", help="heading of the --key column, before conns (when --key is not conns; default: the key)")
p.add_argument("--label", action="append", default=[], metavar="VALUE=TEXT",
               help="how a --key value is shown; rows follow this order (default: sorted, shown as c<conns>)")
p.add_argument("--mib", action="store_true", help="also MiB/s per server")
a = p.parse_args()
hz = os.sysconf("SC_CLK_TCK")
label = dict(x.split("=", 1) for x in a.label)

runs = [json.loads(l) for l in open(f"{a.dir}/runs.jsonl")]
metrics = ["rps"] + ["mib_s"] * a.mib + ["p99_ms", "cpu_us_per_req", "cpu_pct"]
for r in runs:
    w = r["wrk"]
    secs = w["duration_us"] / 1e6
    r["rps"] = w["requests"] / secs
    if a.mib:
        r["mib_s"] = w["bytes"] / secs / 2**20
    r["p99_ms"] = w["p99_us"] / 1000
    r["cpu_us_per_req"] = r["cpu_ticks"] / hz * 1e6 / w["requests"] if w["requests"] else None
    r["cpu_pct"] = 100 * r["cpu_ticks"] / hz / secs  # of its pinned CPU 0
    r["errors"] = sum(w[k] for k in w if k.startswith("err_"))

med = lambda v: st.median(v) if v else None
rows = []
for v in label or sorted({r[a.key] for r in runs}):
    group = [r for r in runs if str(r[a.key]) == str(v)]
    if not group:
        continue
    by = {(r["server"], r["round"]): r for r in group}
    get = lambda s, k: [r[k] for (n, _), r in sorted(by.items()) if n == s and r[k] is not None]
    ratios = [by["squall", i]["rps"] / by["nginx", i]["rps"] for (n, i) in by
              if n == "nginx" and ("squall", i) in by and by["nginx", i]["rps"]]
    row = {a.key: group[0][a.key], "conns": group[0]["conns"], "ratio_squall_nginx": med(ratios),
           "ratios": ratios}
    for s in SERVERS:
        for k in metrics:
            row[f"{s}_{k}"] = med(get(s, k))
        row[f"{s}_errors"] = sum(get(s, "errors"))
    rows.append(row)

f = lambda v, p=0: "n/a" if v is None else f"{v:,.{p}f}"
name = lambda r: label[str(r[a.key])] if label else f"c{r['conns']}"
extra = a.key != "conns"  # a first column for the key, before conns
md = [f"{a.title}, 1 worker each, servers on CPU 0, wrk -t1 on CPU 1; {a.rounds} interleaved "
      f"rounds x {a.duration} s (after a {a.warmup} s warm-up). Medians over rounds; ratio = median of "
      "per-round squall/nginx req/s.", "",
      f"| {(a.column or a.key) + ' | ' if extra else ''}conns | nginx req/s | squall req/s | squall/nginx "
      "| nginx p99 ms | squall p99 ms | nginx CPU µs/req | squall CPU µs/req |",
      f"| {'--- | ' if extra else ''}---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
for r in rows:
    md.append(f"| {name(r) + ' | ' if extra else ''}{r['conns']} | {f(r['nginx_rps'])} | {f(r['squall_rps'])} | "
              f"{f(r['ratio_squall_nginx'], 2)} | {f(r['nginx_p99_ms'], 2)} | {f(r['squall_p99_ms'], 2)} | "
              f"{f(r['nginx_cpu_us_per_req'], 1)} | {f(r['squall_cpu_us_per_req'], 1)} |")
per_server = lambda k: ", ".join(f"{s} {name(r)} {f(r[f'{s}_{k}'])}" for r in rows for s in SERVERS)
if a.mib:
    md += ["", "Throughput MiB/s (median): " + per_server("mib_s")]
md += ["", "Server CPU use, % of CPU 0 (median; well below 100 while wrk is busy means other load on "
       "CPU 0): " + per_server("cpu_pct")]
errs = {f"{s} {name(r)}": r[f"{s}_errors"] for r in rows for s in SERVERS if r[f"{s}_errors"]}
if errs:
    md += ["", "wrk errors (connect/read/write/status/timeout): " + ", ".join(f"{k}: {v}" for k, v in errs.items())]
open(f"{a.dir}/results.md", "w").write("\n".join(md) + "\n")
json.dump({"rounds": int(a.rounds), "duration_s": float(a.duration), "warmup_s": float(a.warmup), "rows": rows,
           "runs": runs}, open(f"{a.dir}/results.json", "w"), indent=1)
print("\n".join(md))
