#!/usr/bin/env python3
"""NumPy reference for `sgdlab bench particles`: the same workload (2-D, three bump wells
[wide][sharp][wide] inside a box with quadratic walls, symmetric Pareto noise alpha 1.5,
sigma 1, the whole step truncated to norm b = 0.4, lr 0.01), vectorized over particles.

Not part of the product: a side-by-side measurement only. NumPy's generator replaces sgdlab's
counter-based hash, so the draws differ; the arithmetic per step is the same. With
--bookkeeping it also does, every step, what sgdlab's stepper does: each particle's well label,
occupation counts, first exit steps and well-to-well transitions.

Prints one JSON line with particle_steps_per_sec.

Side by side (what the README reports): `--side-by-side PATH/TO/sgdlab [--repeat N]` runs, N
times in turn, `sgdlab bench particles --backend cpu --json`, this script without and with
bookkeeping, and (with --wgpu) `sgdlab bench particles --backend wgpu --json`, all on the same
workload, then prints every figure, each engine's range and sgdlab CPU / NumPy.
"""
import argparse
import json
import subprocess
import sys
import time

import numpy as np

SHARP, WIDE, DEPTH, WALL, B, LR, ALPHA, SIGMA = 0.5, 1.0, 1.0, 4.0, 0.4, 0.01, 1.5, 1.0
CENTERS = np.array([[-SHARP - WIDE, 0.0], [0.0, 0.0], [SHARP + WIDE, 0.0]], dtype=np.float32)
RADII = np.array([WIDE, SHARP, WIDE], dtype=np.float32)
LO = np.array([-SHARP - 2 * WIDE, -WIDE], dtype=np.float32)
HI = np.array([SHARP + 2 * WIDE, WIDE], dtype=np.float32)
NO_BASIN = 3


def grad(x):
    g = WALL * (np.maximum(x - HI, 0) - np.maximum(LO - x, 0))
    for c, r in zip(CENTERS, RADII):
        v = x - c
        d = np.sqrt((v * v).sum(axis=1))
        u = d / r
        inside = u < 1.0
        s = np.where(d > 1e-6 * r, np.sin(np.pi * u) / np.maximum(d * r, 1e-30), np.pi / (r * r))
        coef = np.where(inside, 0.5 * np.pi * DEPTH * s, 0.0).astype(np.float32)
        g += coef[:, None] * v
    return g


def label(x):
    lab = np.full(x.shape[0], NO_BASIN, dtype=np.int64)
    for k in reversed(range(len(RADII))):
        v = x - CENTERS[k]
        lab = np.where((v * v).sum(axis=1) < RADII[k] * RADII[k], k, lab)
    return lab


def run_numpy(n, steps, bookkeeping):
    rng = np.random.default_rng(1)
    x = np.zeros((n, 2), dtype=np.float32)
    x[:, 0] = (np.arange(n) % 3) * 1.5 - 1.5
    start = label(x)
    last = start.copy()
    first_exit = np.full(n, -1, dtype=np.int64)
    occupation = np.zeros(NO_BASIN + 1, dtype=np.int64)
    transitions = np.zeros(NO_BASIN * NO_BASIN, dtype=np.int64)
    t0 = time.perf_counter()
    for step in range(steps):
        u = 1.0 - rng.random((n, 4), dtype=np.float32)  # (0, 1], as sgdlab's uniforms
        mag = u[:, :2] ** (-1.0 / ALPHA) - 1.0
        z = SIGMA * np.where(u[:, 2:] < 0.5, -mag, mag)
        w = -LR * (grad(x) + z)
        norm = np.sqrt((w * w).sum(axis=1))
        w *= np.where(norm > B, B / np.maximum(norm, 1e-30), 1.0)[:, None]
        x += w
        if bookkeeping:
            lab = label(x)
            occupation += np.bincount(lab, minlength=NO_BASIN + 1)
            newly = (first_exit < 0) & (lab != start)
            first_exit[newly] = step + 1
            basin = lab < NO_BASIN
            moved = basin & (last < NO_BASIN) & (last != lab)
            transitions += np.bincount(
                last[moved] * NO_BASIN + lab[moved], minlength=NO_BASIN * NO_BASIN
            )
            last = np.where(basin, lab, last)
    seconds = time.perf_counter() - t0
    return {
        "engine": "numpy",
        "numpy": np.__version__,
        "particles": n,
        "steps": steps,
        "bookkeeping": bookkeeping,
        "seconds": seconds,
        "particle_steps_per_sec": n * steps / seconds,
    }


def run_sgdlab(binary, backend, n, steps):
    out = subprocess.run(
        [binary, "bench", "particles", "--backend", backend, "--particles", str(n),
         "--steps", str(steps), "--json"],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def side_by_side(a):
    rows = {"sgdlab cpu": [], "numpy": [], "numpy + bookkeeping": []}
    if a.wgpu:
        rows["sgdlab wgpu"] = []
    for rep in range(a.repeat):
        r = run_sgdlab(a.side_by_side, "cpu", a.particles, a.steps)
        rows["sgdlab cpu"].append(r["particle_steps_per_sec"])
        rows["numpy"].append(run_numpy(a.particles, a.steps, False)["particle_steps_per_sec"])
        rows["numpy + bookkeeping"].append(
            run_numpy(a.particles, a.steps, True)["particle_steps_per_sec"])
        if a.wgpu:
            r = run_sgdlab(a.side_by_side, "wgpu", a.particles, a.steps)
            rows["sgdlab wgpu"].append(r["particle_steps_per_sec"])
        print(f"round {rep + 1}: " + ", ".join(f"{k} {v[-1]:.3g}" for k, v in rows.items()),
              file=sys.stderr)
    cpu, plain, kept = rows["sgdlab cpu"], rows["numpy"], rows["numpy + bookkeeping"]
    ratio = [c / p for c, p in zip(cpu, plain)]
    ratio_kept = [c / p for c, p in zip(cpu, kept)]
    print(json.dumps({
        "particles": a.particles,
        "steps": a.steps,
        "particle_steps_per_sec": rows,
        "range": {k: [min(v), max(v)] for k, v in rows.items()},
        "cpu_over_numpy_per_round": ratio,
        "cpu_over_numpy_bookkeeping_per_round": ratio_kept,
    }, indent=1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--particles", type=int, default=1 << 20)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--bookkeeping", action="store_true")
    p.add_argument("--side-by-side", metavar="SGDLAB", help="path of the sgdlab binary")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--wgpu", action="store_true", help="also time the WGSL kernel")
    a = p.parse_args()
    if a.side_by_side:
        side_by_side(a)
    else:
        print(json.dumps(run_numpy(a.particles, a.steps, a.bookkeeping)))


if __name__ == "__main__":
    main()
