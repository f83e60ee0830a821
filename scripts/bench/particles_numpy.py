#!/usr/bin/env python3
"""NumPy reference for `sgdlab bench particles`: the same workload (2-D, three bump wells
[wide][sharp][wide] inside a box with quadratic walls, symmetric Pareto noise alpha 1.5,
sigma 1, the whole step truncated to norm b = 0.4, lr 0.01), vectorized over particles.

Not part of the product: a side-by-side measurement only. NumPy's generator replaces sgdlab's
counter-based hash, so the draws differ; the arithmetic per step is the same. With
--bookkeeping it also labels each particle's well every step and keeps occupation counts and
first exit steps (what the experiments need, without transition counts).

Prints one JSON line with particle_steps_per_sec.
"""
import argparse
import json
import time

import numpy as np

SHARP, WIDE, DEPTH, WALL, B, LR, ALPHA, SIGMA = 0.5, 1.0, 1.0, 4.0, 0.4, 0.01, 1.5, 1.0
CENTERS = np.array([[-SHARP - WIDE, 0.0], [0.0, 0.0], [SHARP + WIDE, 0.0]], dtype=np.float32)
RADII = np.array([WIDE, SHARP, WIDE], dtype=np.float32)
LO = np.array([-SHARP - 2 * WIDE, -WIDE], dtype=np.float32)
HI = np.array([SHARP + 2 * WIDE, WIDE], dtype=np.float32)


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
    lab = np.full(x.shape[0], 3, dtype=np.int64)
    for k, (c, r) in enumerate(zip(CENTERS, RADII)):
        v = x - c
        lab = np.where((v * v).sum(axis=1) < r * r, k, lab)
    return lab


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--particles", type=int, default=1 << 20)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--bookkeeping", action="store_true")
    a = p.parse_args()
    rng = np.random.default_rng(1)
    n = a.particles
    x = np.zeros((n, 2), dtype=np.float32)
    x[:, 0] = (np.arange(n) % 3) * 1.5 - 1.5
    start = label(x)
    first_exit = np.full(n, -1, dtype=np.int64)
    occupation = np.zeros(4, dtype=np.int64)
    t0 = time.perf_counter()
    for step in range(a.steps):
        u = 1.0 - rng.random((n, 4), dtype=np.float32)  # (0, 1], as sgdlab's uniforms
        mag = u[:, :2] ** (-1.0 / ALPHA) - 1.0
        z = SIGMA * np.where(u[:, 2:] < 0.5, -mag, mag)
        w = -LR * (grad(x) + z)
        norm = np.sqrt((w * w).sum(axis=1))
        w *= np.where(norm > B, B / np.maximum(norm, 1e-30), 1.0)[:, None]
        x += w
        if a.bookkeeping:
            lab = label(x)
            occupation += np.bincount(lab, minlength=4)
            newly = (first_exit < 0) & (lab != start)
            first_exit[newly] = step + 1
    seconds = time.perf_counter() - t0
    print(json.dumps({
        "engine": "numpy",
        "numpy": np.__version__,
        "particles": n,
        "steps": a.steps,
        "bookkeeping": a.bookkeeping,
        "seconds": seconds,
        "particle_steps_per_sec": n * a.steps / seconds,
    }))


if __name__ == "__main__":
    main()
