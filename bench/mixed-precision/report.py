#!/usr/bin/env python3
"""Tables and a chart from bench/mixed-precision/run.sh's reports (qlab study --json).

    bench/mixed-precision/report.py OUT [SVG]

Prints the markdown of bench/results/mixed-precision.md's tables: every study's hypervolume
(the server's, at the study's reference point), the uniform formats, and the NSGA-II front;
writes the fronts as an SVG chart when SVG is given.
"""
import json
import os
import statistics
import sys


def load(out, name):
    with open(os.path.join(out, name + ".json")) as f:
        return json.load(f)


def front_points(report):
    by_trial = {t["trial"]: t for t in report["trials"]}
    pts = [by_trial[i] for i in report["front"]]
    return sorted(pts, key=lambda t: t["values"][1])


def counts(assignment):
    value = assignment["datatype"]
    if not isinstance(value, dict):
        return value
    tally = {}
    for choice in value.values():
        tally[choice] = tally.get(choice, 0) + 1
    return " ".join(f"{c}×{n}" for c, n in sorted(tally.items()))


def svg(path, series, reference):
    """A scatter of (bits, perplexity) per series, each front joined by a step line."""
    w, h, left, bottom, top, right = 880, 460, 70, 50, 20, 270
    xs = [p[0] for s in series for p in s["points"]]
    ys = [p[1] for s in series for p in s["points"]]
    x0, x1 = min(xs) - 0.1, max(xs) + 0.1
    y0, y1 = min(ys) - 0.02, max(ys) + 0.02
    sx = lambda x: left + (x - x0) / (x1 - x0) * (w - left - right)
    sy = lambda y: h - bottom - (y - y0) / (y1 - y0) * (h - bottom - top)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>']
    for i in range(6):
        gx = x0 + (x1 - x0) * i / 5
        gy = y0 + (y1 - y0) * i / 5
        out.append(f'<line x1="{sx(gx):.1f}" y1="{top}" x2="{sx(gx):.1f}" y2="{h - bottom}" stroke="#eee"/>')
        out.append(f'<text x="{sx(gx):.1f}" y="{h - bottom + 16}" text-anchor="middle">{gx:.2f}</text>')
        out.append(f'<line x1="{left}" y1="{sy(gy):.1f}" x2="{w - right}" y2="{sy(gy):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 6}" y="{sy(gy) + 4:.1f}" text-anchor="end">{gy:.2f}</text>')
    out.append(f'<text x="{(left + w - right) / 2}" y="{h - 12}" text-anchor="middle">'
               'bits per weight (lower is better)</text>')
    out.append(f'<text transform="translate(18,{(top + h - bottom) / 2}) rotate(-90)" '
               'text-anchor="middle">perplexity on the held-out chapters (lower is better)</text>')
    for k, s in enumerate(series):
        pts = sorted(s["front"])
        if len(pts) > 1 and s.get("line", True):
            d = f"M{sx(pts[0][0]):.1f},{sy(pts[0][1]):.1f}"
            for (ax, ay), (bx, by) in zip(pts, pts[1:]):
                d += f" L{sx(bx):.1f},{sy(ay):.1f} L{sx(bx):.1f},{sy(by):.1f}"
            out.append(f'<path d="{d}" fill="none" stroke="{s["colour"]}" stroke-width="1.5"/>')
        for x, y in s["points"]:
            on = (x, y) in s["front"]
            r = 4 if on else 2
            fill = s["colour"] if on or not s.get("hollow_rest") else "none"
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="{r}" fill="{fill}" '
                       f'stroke="{s["colour"]}" opacity="{1 if on else 0.35}"/>')
        for lx, ly, text in s.get("labels", []):
            out.append(f'<text x="{sx(lx) + 6:.1f}" y="{sy(ly) - 6:.1f}" fill="{s["colour"]}">{text}</text>')
        ly = top + 14 + 18 * k
        out.append(f'<circle cx="{w - right + 16}" cy="{ly - 4}" r="4" fill="{s["colour"]}"/>')
        out.append(f'<text x="{w - right + 26}" y="{ly}">{s["name"]}</text>')
    out.append(f'<text x="{w - right + 10}" y="{top + 14 + 18 * len(series) + 10}" fill="#555">'
               f'reference point [{reference[0]}, {reference[1]}]</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    out = sys.argv[1]
    uniform = load(out, "uniform")
    nsga = load(out, "nsga2-seed1")
    randoms = [load(out, f"random-seed{s}") for s in (1, 2, 3)]
    wall = {}
    with open(os.path.join(out, "wall_seconds.txt")) as f:
        for line in f:
            name, seconds = line.split()
            wall[name] = float(seconds)

    print("| study | sampler | trials | front | hypervolume | wall time |")
    print("|---|---|---:|---:|---:|---:|")
    rows = [("uniform", uniform), ("nsga2-seed1", nsga)] + [(f"random-seed{i + 1}", r) for i, r in enumerate(randoms)]
    for name, r in rows:
        print(f"| {name} | {r['sampler']} | {r['counts']['succeeded']} | {len(r['front'])} | "
              f"{r['hypervolume']:.4f} | {wall.get(name, 0):.0f} s |")
    hv_random = [r["hypervolume"] for r in randoms]
    print(f"\nrandom search, mean of 3 seeds: {statistics.mean(hv_random):.4f} "
          f"(min {min(hv_random):.4f}, max {max(hv_random):.4f}); NSGA-II {nsga['hypervolume']:.4f}; "
          f"uniform formats {uniform['hypervolume']:.4f}; reference point {nsga['reference']}\n")

    print("Uniform formats (group 128):\n")
    print("| datatype | bits/weight | perplexity | on the uniform front |")
    print("|---|---:|---:|---|")
    on = set(uniform["front"])
    for t in sorted(uniform["trials"], key=lambda t: t["values"][1]):
        print(f"| {t['assignment']['datatype']} | {t['values'][1]:.4f} | {t['values'][0]:.4f} | "
              f"{'yes' if t['trial'] in on else ''} |")

    print("\nNSGA-II front (28 block linears, one format each):\n")
    print("| trial | job | bits/weight | perplexity | formats (count of linears) |")
    print("|---:|---:|---:|---:|---|")
    for t in front_points(nsga):
        print(f"| {t['trial']} | {t['job_id']} | {t['values'][1]:.4f} | {t['values'][0]:.4f} | "
              f"{counts(t['assignment'])} |")

    if len(sys.argv) > 2:
        def series(name, report, colour, **extra):
            pts = [(t["values"][1], t["values"][0]) for t in report["trials"] if t["values"]]
            front = [(t["values"][1], t["values"][0]) for t in front_points(report)]
            return dict(name=name, points=pts, front=front, colour=colour, **extra)
        best_random = max(randoms, key=lambda r: r["hypervolume"])
        labels = [(t["values"][1], t["values"][0], t["assignment"]["datatype"]) for t in uniform["trials"]]
        svg(sys.argv[2], [
            series("NSGA-II, 200 trials", nsga, "#08519c"),
            series(f"random, 200 trials (best seed)", best_random, "#f28e2b", hollow_rest=True),
            series("uniform formats", uniform, "#333", labels=labels),
        ], nsga["reference"])


if __name__ == "__main__":
    main()
