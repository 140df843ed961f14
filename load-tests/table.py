#!/usr/bin/env python3
"""Prints a markdown table of run-bench.sh result files (one column per file/target).

Usage: python3 load-tests/table.py load-tests/results/2026-11-25-yws.json [...]
       python3 load-tests/table.py --issue8 results/<date>-{yws,hocuspocus,hocuspocus4,copydesk}.json

--issue8 prints issue 8's side-by-side table instead: one column per server (yws,
hocuspocus, hocuspocus4, copydesk, in that order whatever the order of the files), the
issue's rows and its goal column, from the result files of one run.
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
    "4w-saturate-1mb-4writers": lambda s: s["updates_per_s"] or 0,
    "4wb-saturate-empty-4writers": lambda s: s["updates_per_s"] or 0,
    "2m-max-rate": lambda s: s.get("max_rate_per_s") or 0,
    "3s-idle-slope": lambda s: s["server"].get("rss_slope_kib_per_conn") or 0,
    "6-multi-doc": lambda s: s["latency_ms"]["p99"],
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


def role(s, who, q="p99"):
    """A percentile of the latency seen by writers or by readers ("–" if none)."""
    r = s and s.get("latency_ms", {}).get(who)
    return f"{r[q]:.2f}" if r else "–"


def roles(s):
    if not s:
        return "–"
    return f"{role(s, 'writers', 'p50')} / {role(s, 'writers')} · {role(s, 'readers', 'p50')} / {role(s, 'readers')}"


def slope(s):
    if not s:
        return "–"
    srv = s["server"]
    steps = ", ".join(f"{p['connections']:,}: {p['rss_kib'] / 1024:,.1f} MiB" for p in srv.get("rss_steps") or [])
    return f"{fmt(srv.get('rss_slope_kib_per_conn'), 2)} ({steps})" if steps else fmt(srv.get("rss_slope_kib_per_conn"), 2)


def failing_rung(s):
    """The ladder's first failing rung, if any."""
    return next((r for r in s.get("ladder") or [] if not r.get("pass")), None)


def maxrate_note(s):
    """Why the ladder stopped: no failing rung, or a failing rung where the generator's
    core was (nearly) full, so the limit found may be the generator's, not the server's."""
    f = failing_rung(s)
    if f is None:
        return "no rung failed: raise MR_STEPS"
    if (f.get("generator_cpu_pct") or 0) >= 90:
        return f"generator at {fmt(f['generator_cpu_pct'])} % when {fmt(f['asked_per_s'])}/s failed: its limit?"
    return ""


def maxrate(s):
    if not s:
        return "–"
    if s.get("max_rate_per_s") is None:
        return f"none passed (first rung {fmt((s.get('ladder') or [{}])[0].get('asked_per_s'))}/s failed)"
    f = failing_rung(s)
    why = f"; {fmt(f['asked_per_s'])}/s failed (p99 {fmt(f.get('p99_ms'))} ms, drops {f.get('drops')})" if f else ""
    note = maxrate_note(s)
    return f"{fmt(s['max_rate_per_s'], 0)} (p99 {s['latency_ms']['p99']:.1f} ms{why}{'; ' + note if note else ''})"


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
    ("1 · at writers p50 / p99 · at readers p50 / p99, ms", "1-latency", roles),
    ("1p · same, Poisson writers: p50 / p99 / max, ms", "1p-latency-poisson", lat),
    ("1p · at writers p50 / p99 · at readers p50 / p99, ms", "1p-latency-poisson", roles),
    ("1p · server / generator CPU, %", "1p-latency-poisson", cpu),
    ("2 · saturation, updates/s into 1 doc (50 clients, 10 writers)", "2-saturate", ups),
    ("2 · deliveries/s (update × receiving client)", "2-saturate", lambda s: fmt(s["deliveries_per_s"], 0) if s else "–"),
    ("2 · server / generator CPU, %", "2-saturate", cpu),
    ("2 · drops / conn errors / stalls", "2-saturate", health),
    ("2 · others' CPU during the window, % of a core (noise)", "2-saturate", others),
    ("2m · max updates/s into 1 doc, 50 clients, 10 Poisson writers, p99 ≤ 50 ms, no drops", "2m-max-rate", maxrate),
    ("2m · at that rate: server / generator CPU, %", "2m-max-rate", cpu),
    ("3 · idle memory, KiB per connection (1 doc, 500 connections; 100 with --quick)", "3-idle-memory",
     lambda s: fmt(s["server"]["rss_per_conn_kib"]) if s else "–"),
    ("3s · idle memory, KiB per connection, average (RSS after − before ÷ connections)", "3s-idle-slope",
     lambda s: f"{fmt(s['server']['rss_per_conn_kib'])} ({s['connections']['connected']:,} conns over {s['docs']} docs)" if s else "–"),
    ("3s · idle memory slope, KiB per connection (least squares over the RSS samples)", "3s-idle-slope", slope),
    ("3s · conn errors / disconnects", "3s-idle-slope",
     lambda s: f"{s['connections']['errors']} / {s['connections']['disconnects']}" if s else "–"),
    ("4 · 1 MB doc, updates/s (10 clients, all writing)", "4-saturate-1mb", ups),
    ("4b · empty doc, same load, updates/s", "4b-saturate-empty", ups),
    ("4 · server / generator CPU, % (1 MB doc)", "4-saturate-1mb", cpu),
    ("4w · 1 MB doc, 10 clients, 4 writers closed-loop: updates/s", "4w-saturate-1mb-4writers", ups),
    ("4w · p50 / p99 / max, ms", "4w-saturate-1mb-4writers", lat),
    ("4w · at writers p50 / p99 · at readers p50 / p99, ms", "4w-saturate-1mb-4writers", roles),
    ("4wb · empty doc, same load: updates/s", "4wb-saturate-empty-4writers", ups),
    ("4w · server / generator CPU, % (1 MB doc)", "4w-saturate-1mb-4writers", cpu),
    ("4w · drops / conn errors / stalls", "4w-saturate-1mb-4writers", health),
    ("6 · 100 docs × 10 clients, 2 writers × 2/s (Poisson): p50 / p99 / max, ms", "6-multi-doc", lat),
    ("6 · at writers p50 / p99 · at readers p50 / p99, ms", "6-multi-doc", roles),
    ("6 · server / generator CPU, %", "6-multi-doc", cpu),
    ("6 · drops / conn errors / stalls", "6-multi-doc", health),
    ("5 · connect → SyncStep2 of a 1 MB doc, ms", None, None),
]


def doc_ratio(scen, full, empty):
    a, b = scen.get(full), scen.get(empty)
    if a and b and a.get("updates_per_s") and b.get("updates_per_s"):
        return a["updates_per_s"] / b["updates_per_s"]
    return None


# --- issue 8's side-by-side table -----------------------------------------------------------

ORDER = ["yws", "hocuspocus", "hocuspocus4", "copydesk"]
NAMES = {
    "yws": "@y/websocket-server {v}",
    "hocuspocus": "Hocuspocus {v}",
    "hocuspocus4": "Hocuspocus {v} (Node {node})",
    "copydesk": "Copydesk",
}
DEFAULT_VERSION = {"yws": "0.1.1", "hocuspocus": "3.4.4", "hocuspocus4": "4.7.0"}


def header(target, doc):
    host = doc.get("host", {})
    v = (host.get("server") or "").rsplit(" ", 1)[-1] or DEFAULT_VERSION.get(target, "")
    node = (host.get("node") or "v22").lstrip("v").split(".")[0]
    return NAMES.get(target, target).format(v=v, node=node)


def p99_roles(s):
    """'p99 (writers w / readers r)' in ms."""
    if not s:
        return "–"
    return f"{s['latency_ms']['p99']:.2f} (w {role(s, 'writers')} / r {role(s, 'readers')})"


def issue_cell_1(s):
    return p99_roles(s)


def issue_cell_6(s):
    if not s:
        return "–"
    return f"{p99_roles(s)} / {fmt(s['server']['cpu_pct'])} %"


def issue_cell_2m(s):
    if not s:
        return "–"
    if s.get("max_rate_per_s") is None:
        return f"< {fmt((s.get('ladder') or [{}])[0].get('asked_per_s'))}"
    note = maxrate_note(s)
    return f"{fmt(s['max_rate_per_s'], 0)} (p99 {s['latency_ms']['p99']:.1f} ms{'; ' + note if note else ''})"


def issue_cell_4w(s):
    if not s:
        return "–"
    return f"{fmt(s['updates_per_s'], 0)} / {p99_roles(s)}"


def issue_cell_3s(s):
    if not s:
        return "–"
    srv = s["server"]
    return f"{fmt(srv['rss_per_conn_kib'])} / {fmt(srv.get('rss_slope_kib_per_conn'))}"


ISSUE_ROWS = [
    ("1 doc × 200 clients, 20 writers × 5/s, evenly staggered: p99, ms (writers / readers)",
     "1-latency", issue_cell_1, "≤ 2 ms"),
    ("same, Poisson writers: p99, ms (writers / readers)",
     "1p-latency-poisson", issue_cell_1, "≤ 2 ms"),
    ("100 docs × 10 clients, 2 writers × 2/s: p99, ms (writers / readers) / server CPU",
     "6-multi-doc", issue_cell_6, "≤ 0.5 ms / ≤ 6 %"),
    ("max updates/s into 1 doc, 50 clients (p99 ≤ 50 ms, no drops)",
     "2m-max-rate", issue_cell_2m, "≥ 15,000"),
    ("1 MB doc, 4 writers closed-loop: updates/s / p99, ms (writers / readers)",
     "4w-saturate-1mb-4writers", issue_cell_4w, "≥ 15,000 / ≤ 10 ms"),
]


def issue8(paths):
    cols = []
    for p in paths:
        with open(p) as f:
            doc = json.load(f)
        t, median, spread = load(p)
        cols.append((t, doc, median, spread))
    cols.sort(key=lambda c: ORDER.index(c[0]) if c[0] in ORDER else len(ORDER))
    dates = sorted({c[1].get("date", "?")[:10] for c in cols})
    repeats = sorted({c[1].get("repeat", 1) for c in cols})
    quick = any(c[1].get("quick") for c in cols)
    if repeats == [1]:
        what = "one run each"
    elif len(repeats) == 1:
        what = f"median of {repeats[0]} runs"
    else:
        what = "median run; runs per column: " + ", ".join(str(c[1].get("repeat", 1)) for c in cols)
    title = f"scenario ({what}, side by side, {', '.join(dates)}{'; --quick: not numbers to keep' if quick else ''})"
    print(f"| {title} | " + " | ".join(header(t, d) for t, d, _, _ in cols) + " | goal |")
    print("|---|" + "---:|" * len(cols) + "---|")
    for name, label, f, goal in ISSUE_ROWS:
        print(f"| {name} | " + " | ".join(f(m.get(label)) for _, _, m, _ in cols) + f" | {goal} |")
    ratios = []
    for _, _, m, _ in cols:
        r = doc_ratio(m, "4w-saturate-1mb-4writers", "4wb-saturate-empty-4writers")
        ratios.append(f"{r:.2f}" if r is not None else "–")
    print("| 1 MB ÷ empty-doc rate, 4 writers closed-loop | " + " | ".join(ratios) + " | ≥ 0.95 |")
    n = None
    for _, _, m, _ in cols:
        s = m.get("3s-idle-slope")
        if s:
            n = f"{s['connections']['attempted']:,} conns over {s['docs']} docs"
            break
    print(f"| idle RSS per connection ({n or '5,000 conns over 500 docs'}): average / slope, KiB "
          "| " + " | ".join(issue_cell_3s(m.get("3s-idle-slope")) for _, _, m, _ in cols) + " | ≤ 4 KB (both) |")
    # Whether to trust the columns: drops and errors anywhere, and others' CPU.
    health_cells, noise_cells = [], []
    for _, _, m, _ in cols:
        drops = errs = 0
        noise = []
        for s in m.values():
            drops += s.get("drops") or 0
            c = s.get("connections") or {}
            errs += (c.get("errors") or 0) + (c.get("disconnects") or 0)
            o = (s.get("machine") or {}).get("others_pct")
            if o is not None:
                noise.append(o)
        health_cells.append(f"{drops} / {errs}")
        noise_cells.append(fmt(max(noise)) if noise else "–")
    print("| all rows above: drops / conn errors + disconnects | " + " | ".join(health_cells) + " | 0 / 0 |")
    print("| others' CPU during a window, max, % of a core (distrust above ~10) | " + " | ".join(noise_cells) + " | |")
    print("\nw / r: p99 at the clients that write / at read-only clients (4w has 6 readers of 10).")
    print("Repeated runs (each cell is the median run by its row's figure); every run:")
    for t, _, _, spread in cols:
        for label in [r[1] for r in ISSUE_ROWS] + ["4wb-saturate-empty-4writers", "3s-idle-slope"]:
            if label in spread and len(spread[label]) > 1:
                print(f"- {t} {label}: " + ", ".join(f"{v:g}" for v in spread[label]))


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
        if all(set(c) <= set("–/· ") for c in cells):
            continue  # a scenario none of these files ran
        print(f"| {title} | " + " | ".join(cells) + " |")
    for name, full, empty in (("10 writers", "4-saturate-1mb", "4b-saturate-empty"),
                              ("4 writers", "4w-saturate-1mb-4writers", "4wb-saturate-empty-4writers")):
        ratio = []
        for t, scen, _ in cols:
            r = doc_ratio(scen, full, empty)
            if r is not None:
                ratio.append(f"{t}: {r:.2f}")
        if ratio:
            print(f"\n1 MB ÷ empty throughput, {name} (flat in doc size ≈ 1.00): {', '.join(ratio)}")
    repeated = [(t, spread) for t, _, spread in cols if any(len(v) > 1 for v in spread.values())]
    if repeated:
        print("\nRepeated runs (the table shows the median run; its key metric over all runs):")
        for t, spread in repeated:
            for label, vals in spread.items():
                print(f"- {t} {label}: " + ", ".join(f"{v:g}" for v in vals))


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or (args[0] == "--issue8" and len(args) < 2):
        sys.exit(__doc__)
    if args[0] == "--issue8":
        issue8(args[1:])
    else:
        main(args)
