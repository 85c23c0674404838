"""Plots a bench/run results.json: send throughput and broker CPU per million messages, ours
against Java, per scenario and client. Run by bench/run with the matplotlib of bench/.cache/venv:

    python plot.py results.json plot.png
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(src: str, dst: str) -> None:
    data = json.load(open(src))
    runs = [r for r in data["runs"] if r.get("ok")]
    keys = list(dict.fromkeys((r["scenario"], r["client"]) for r in runs))
    by = {(r["scenario"], r["client"], r["impl"]): r for r in runs}

    def val(k, impl, field):
        r = by.get((k[0], k[1], impl))
        if r is None:
            return 0.0
        v = r.get(field)
        if v is None and field == "msgs_per_sec":
            v = r.get("consume_msgs_per_sec")
        return float(v or 0.0)

    labels = [f"{s}\n{'java tool' if c == 'java' else c}" for s, c in keys]
    fig, axes = plt.subplots(3, 1, figsize=(max(10, 0.9 * len(keys) + 3), 13))
    panels = [("msgs_per_sec", "msg/s (send; consume for backlog)", False),
              ("cpu_s_per_m", "broker CPU s per million msgs, log scale (lower is better)", True),
              ("vmhwm_mb", "broker peak RSS MB (lower is better)", False)]
    x = range(len(keys))
    w = 0.4
    for ax, (field, title, log) in zip(axes, panels):
        ours = [val(k, "ours", field) for k in keys]
        java = [val(k, "java", field) for k in keys]
        ax.bar([i - w / 2 for i in x], ours, w, label="ours (Rust)", color="#d2691e")
        ax.bar([i + w / 2 for i in x], java, w, label="Java 5.5.0", color="#4682b4")
        ax.set_title(title)
        if log and any(v > 0 for v in ours + java):
            ax.set_yscale("log")
        ax.set_xticks(list(x))
        ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=7)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    meta = data.get("meta", {})
    fig.suptitle(f"RocketMQ broker benchmark {meta.get('started', '')} "
                 f"(loadavg start {meta.get('load_start', '?')})", fontsize=10)
    fig.tight_layout()
    fig.savefig(dst, dpi=90)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
