"""Plot a diagnosis: power (with Monte-Carlo error bars) over the first grid parameter."""

from __future__ import annotations

from pathlib import Path


def plot_diagnosis(diagnosis, path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bitframe.io import atomic_path

    frame = diagnosis.to_frame()
    grid_cols = [c for c in frame.columns if c.startswith("grid_")]
    if not grid_cols:
        raise ValueError("a diagnosis plot needs a grid (e.g. grid={'n': [400, 800]})")
    x = grid_cols[0]
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    # Okabe-Ito palette: distinguishable with the common colour-vision deficiencies.
    palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"]
    for i, ((outcome, arm), part) in enumerate(frame.groupby(["outcome", "arm"], sort=False)):
        part = part.sort_values(x)
        ax.errorbar(part[x], part["power"], yerr=1.96 * part["power_mcse"], marker="o", capsize=3,
                    color=palette[i % len(palette)], label=f"{outcome}: {arm}")
    ax.axhline(0.8, color="#555555", linestyle="--", linewidth=1, label="80% power")
    ax.set_xlabel(x.removeprefix("grid_"))
    ax.set_ylabel("power (simulated, 95% MC interval)")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Design diagnosis: {diagnosis.trial_id} ({diagnosis.sims} simulations each)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "svg")
    plt.close(fig)
