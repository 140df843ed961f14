#!/usr/bin/env python3
"""Prints a markdown table of run-bench.sh result files (one column per file/target).

Usage: python3 load-tests/table.py load-tests/results/2026-11-25-yws.json [...]
"""
import json
import statistics
import sys


# The metric that picks the median run of a repeated scenario.
KEY = {
    "1-latency": lambda s: s["latency_ms"]["p99"],
    "1p-latency-poisson": lambda s: s["latency_ms"]["p99"],
    "2-saturate": lambda s: s["updates_per_s"] or 0,
    "3-idle-memory": lambda s: s["server"]["rss_per_conn_kib"] or 0,
    "4-saturate-1mb": lambda s: s["updates_per_s"] or 0,
    "4b-saturate-empty": lambda s: s["updates_per_s"] or 0,
}


def load(path):
    """(target, {label: median run}, {label: all values of its key metric})."""
    with open(path) as f:
        doc = json.load(f)
    runs = {}
    for s in doc["scenarios"]:
        runs.setdefault(s["label"], []).append(s)
    median, spread = {}, {}
    for label, rs in runs.items():
        key = KEY.get(label, lambda s: (s.get("sync_probes") or [{"ms": 0}])[0]["ms"])
        rs = sorted(rs, key=key)
        median[label] = rs[(len(rs) - 1) // 2]
        spread[label] = [key(r) for r in rs]
    return doc["target"], median, spread


def fmt(x, digits=1):
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return f"{x:,}"


def lat(s):
    if not s:
        return "–"
    l = s["latency_ms"]
    return f"{l['p50']:.2f} / {l['p99']:.2f} / {l['max']:.2f}"


def cpu(s):
    if not s:
        return "–"
    return f"{fmt(s['server']['cpu_pct'])} / {fmt(s['generator']['cpu_pct'])}"


def health(s):
    if not s:
        return "–"
    c = s["connections"]
    return f"{s['drops']} / {c['errors'] + c['disconnects']} / {s['stalls']}"


def ups(s):
    return fmt(s["updates_per_s"], 0) if s else "–"


def sync(s):
    if not s or not s.get("sync_probes"):
        return "–"
    ms = [p["ms"] for p in s["sync_probes"]]
    kind = "cold" if "cold" in s["label"] else "warm"
    return f"{ms[0]:.1f} ({kind} 1st) / {statistics.median(ms):.1f} (median of {len(ms)})"


def others(s):
    m = s and s.get("machine")
    return fmt(m["others_pct"]) if m and m.get("others_pct") is not None else "–"


ROWS = [
    ("1 · fan-out latency p50 / p99 / max, ms (1 doc, 200 clients, 20 writers × 5/s, evenly staggered)", "1-latency", lat),
    ("1 · server / generator CPU, %", "1-latency", cpu),
    ("1 · drops / conn errors / stalls", "1-latency", health),
    ("1 · others' CPU during the window, % of a core (noise)", "1-latency", others),
    ("1p · same, Poisson writers: p50 / p99 / max, ms", "1p-latency-poisson", lat),
    ("1p · server / generator CPU, %", "1p-latency-poisson", cpu),
    ("2 · saturation, updates/s into 1 doc (50 clients, 10 writers)", "2-saturate", ups),
    ("2 · deliveries/s (update × receiving client)", "2-saturate", lambda s: fmt(s["deliveries_per_s"], 0) if s else "–"),
    ("2 · server / generator CPU, %", "2-saturate", cpu),
    ("2 · drops / conn errors / stalls", "2-saturate", health),
    ("2 · others' CPU during the window, % of a core (noise)", "2-saturate", others),
    ("3 · idle memory, KiB per connection (1 doc, 500 connections; 100 with --quick)", "3-idle-memory",
     lambda s: fmt(s["server"]["rss_per_conn_kib"]) if s else "–"),
    ("4 · 1 MB doc, updates/s (10 clients, all writing)", "4-saturate-1mb", ups),
    ("4b · empty doc, same load, updates/s", "4b-saturate-empty", ups),
    ("4 · server / generator CPU, % (1 MB doc)", "4-saturate-1mb", cpu),
    ("5 · connect → SyncStep2 of a 1 MB doc, ms", None, None),
]


def main(paths):
    cols = [load(p) for p in paths]
    print("| scenario | " + " | ".join(t for t, _, _ in cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for title, label, f in ROWS:
        cells = []
        for _, scen, _ in cols:
            if label is None:  # scenario 5 is labelled per target (warm vs cold)
                s = next((v for k, v in scen.items() if k.startswith("5-") and v.get("sync_probes")), None)
                cells.append(sync(s))
            else:
                cells.append(f(scen.get(label)))
        print(f"| {title} | " + " | ".join(cells) + " |")
    ratio = []
    for t, scen, _ in cols:
        a, b = scen.get("4-saturate-1mb"), scen.get("4b-saturate-empty")
        if a and b and b["updates_per_s"]:
            ratio.append(f"{t}: {a['updates_per_s'] / b['updates_per_s']:.2f}")
    if ratio:
        print(f"\n1 MB ÷ empty throughput (flat in doc size ≈ 1.00): {', '.join(ratio)}")
    repeated = [(t, spread) for t, _, spread in cols if any(len(v) > 1 for v in spread.values())]
    if repeated:
        print("\nRepeated runs (the table shows the median run; its key metric over all runs):")
        for t, spread in repeated:
            for label, vals in spread.items():
                print(f"- {t} {label}: " + ", ".join(f"{v:g}" for v in vals))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
