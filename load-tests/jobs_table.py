#!/usr/bin/env python3
"""Prints a markdown summary of a run-jobs-bench.sh result file (median run of each
configuration, every run's key number, Copydesk ÷ pgbench ratios).

Usage: python3 load-tests/jobs_table.py load-tests/results/2026-11-30-jobs.json
"""
import json
import sys


INDEX_NOTE = ", + claim index (experiment)"


def median_run(runs, key):
    rs = sorted(runs, key=key)
    return rs[(len(rs) - 1) // 2], [key(r) for r in rs]


def fmt(x, digits=0):
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def summarize(doc):
    groups = {}
    for r in doc["runs"]:
        groups.setdefault(r["label"], []).append(r)
    jobs, pgb, outbox = {}, {}, {}
    for label, runs in groups.items():
        b = runs[0]["bench"]
        if b == "jobs" and runs[0]["system"] == "copydesk":
            m, all_ = median_run(runs, lambda r: r["jobs_per_s"])
            jobs[(m.get("claim_index", False), m["nodes"], m["concurrency"])] = (m, all_, all(r["exactly_once"] for r in runs))
        elif b == "jobs":
            m, all_ = median_run(runs, lambda r: r["jobs_per_s"])
            pgb[(m.get("claim_index", False), m["clients"])] = (m, all_, all(r["exactly_once"] for r in runs))
        elif b == "outbox":
            m, all_ = median_run(runs, lambda r: r["lag_ms"]["p99"])
            outbox[label] = (m, all_, all(r["exactly_once"] and r["in_order"] for r in runs))
    return jobs, pgb, outbox


def main(path):
    with open(path) as f:
        doc = json.load(f)
    jobs, pgb, outbox = summarize(doc)
    h = doc["host"]
    jobs_line = f"{doc['jobs']:,} jobs per run, " if (jobs or pgb) else ""
    print(f"{jobs_line}median of {doc['repeat']} runs; {h['postgres']} "
          f"({h['postgres_settings']}) on core {h['postgres_core']}, benchmark on core {h['bench_core']}; {h['cpu']}")
    print()
    if jobs or pgb:
        print("| jobs claimed + completed | jobs/s (median) | all runs | ÷ pgbench, clients = nodes | exactly once | "
              "claims / jobs per claim | bench / PostgreSQL / others CPU % |")
        print("|---|---:|---|---:|---|---|---|")
        for (idx, nodes, conc), (m, all_, ok) in sorted(jobs.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1])):
            ref = pgb.get((idx, nodes))
            ratio = f"{m['jobs_per_s'] / ref[0]['jobs_per_s']:.2f}" if ref else "–"
            claims = sum(n["claims"] for n in m["per_node"])
            per = ", ".join(f"{n['jobs_per_claim']}" for n in m["per_node"])
            cpu = m["cpu"]
            print(f"| Copydesk, {nodes} node{'s' if nodes > 1 else ''} × concurrency {conc}{INDEX_NOTE if idx else ''} | "
                  f"{fmt(m['jobs_per_s'])} | {', '.join(fmt(x) for x in all_)} | {ratio} | "
                  f"{'yes' if ok else 'NO'} | {fmt(claims)} / {per} | "
                  f"{fmt(cpu['bench_pct'], 1)} / {fmt(cpu['postgres_pct'], 1)} / {fmt(cpu['others_pct'], 1)} |")
        for (idx, clients), (m, all_, ok) in sorted(pgb.items()):
            cpu = m["cpu"]
            print(f"| pgbench, {clients} client{'s' if clients > 1 else ''} (same SQL, 1 job per claim){INDEX_NOTE if idx else ''} | "
                  f"{fmt(m['jobs_per_s'])} | {', '.join(fmt(x) for x in all_)} | 1.00 | {'yes' if ok else 'NO'} | – | "
                  f"{fmt(cpu['bench_pct'], 1)} / {fmt(cpu['postgres_pct'], 1)} / {fmt(cpu['others_pct'], 1)} |")
        print()
    for label, (m, all_, ok) in outbox.items():
        lag = m["lag_ms"]
        print(f"Outbox, {m['rate_achieved']:,.0f} events/s for {m['duration_s']:.0f} s "
              f"({m['writers']} writers, wake after commit: {'yes' if m['wake_after_commit'] else 'no'}, poll {m['poll_ms']} ms, batch {m['consumer_batch']}): "
              f"lag commit → handler p50 {lag['p50']} / p99 {lag['p99']} / max {lag['max']} ms "
              f"(p99 of every run: {', '.join(str(x) for x in all_)}); "
              f"exactly once and in order in every run: {'yes' if ok else 'NO'} "
              f"(median run: {m['written']:,} written, {m['delivered']:,} delivered, {m['duplicates']} duplicates, "
              f"{m['missing']} missing, {m['out_of_position']} out of position, "
              f"{m['commit_order_violations']} commit-order violations); "
              f"CPU bench / PostgreSQL / others {m['cpu']['bench_pct']} / {m['cpu']['postgres_pct']} / {m['cpu']['others_pct']} %")
        if m.get("lag_ms_by_5s"):
            print("  p50 / p99 lag by 5 s of the run (ms): "
                  + ", ".join(f"{w['from_s']}s {w['p50']} / {w['p99']}" for w in m["lag_ms_by_5s"]))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
