#!/usr/bin/env python3
"""Which of two builds multiplies faster, on a machine whose speed drifts.

    bench/ab_builds.py BASE/bench_gemm NEW/bench_gemm [--threads 2] [--pairs 30]
                       [--seconds 0.1] [--halves | --bf16 | --amx] [--shape M N K ...]

On a shared VM the FMA rate moves by tens of percent within seconds, so two builds timed one
after the other, or against a peak measured once, differ by more than most kernel changes are
worth. This runs the two builds' `bench_gemm --time` on the same shape in alternation, ABBA
(so a steady drift cancels), each run lasting SECONDS, and reports per shape the median over
the pairs of time(BASE) / time(NEW) with its quartiles: above 1, NEW is faster. Running one
build against itself (2026-11-26, 2-core AVX2 VM, 20 pairs of 0.2 s) read medians 0.98-0.99
with quartiles about +-0.07: trust a difference of a few percent only when it repeats.
Build the base from another commit in a worktree, e.g.
    git worktree add /tmp/base HEAD~1 && make -C /tmp/base bench
Prints figures; never fails on a time."""
import argparse
import statistics
import subprocess
import sys

SHAPES = [(4096, 320, 320), (4096, 2560, 320), (4096, 320, 2880), (1024, 640, 5760),
          (256, 1280, 11520), (65536, 256, 2304), (77, 2304, 768)]  # where in SD: see bench_gemm.c


def gflops(binary, shape, args):
    m, n, k = shape
    out = subprocess.run([binary, "--threads", str(args.threads), "--time", str(m), str(n), str(k),
                          "3" if args.amx else "2" if args.bf16 else "1" if args.halves else "0",
                          str(args.seconds)],
                         capture_output=True, text=True, check=True).stdout
    return float(out.split()[1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base")
    ap.add_argument("new")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pairs", type=int, default=30)
    ap.add_argument("--seconds", type=float, default=0.1)
    ap.add_argument("--halves", action="store_true", help="weights stored as halves (F16 checkpoints)")
    ap.add_argument("--bf16", action="store_true", help="weights as bfloat16 pairs (precision bf16)")
    ap.add_argument("--amx", action="store_true", help="bfloat16 pairs on AMX tiles")
    ap.add_argument("--shape", type=int, nargs=3, action="append", metavar=("M", "N", "K"))
    args = ap.parse_args()
    if args.pairs < 2 or args.seconds <= 0:
        sys.exit("ab_builds: --pairs must be at least 2 and --seconds positive")
    print(f"{args.base} (base) vs {args.new} (new), {args.threads} threads, "
          f"{'AMX bf16 pair' if args.amx else 'bf16 pair' if args.bf16 else 'half' if args.halves else 'f32'} weights, {args.pairs} ABBA pairs of {args.seconds} s")
    print(f"{'M':>6} {'N':>6} {'K':>6} | {'base GFLOP/s':>12} {'new GFLOP/s':>12} | "
          f"{'new speed-up':>12} {'q1':>6} {'q3':>6}")
    for shape in [tuple(s) for s in args.shape] if args.shape else SHAPES:
        base, new, ratio = [], [], []
        for r in range(args.pairs):
            got = [0.0, 0.0]  # base, new (the same binary twice is the A/A check)
            for which in ((0, 1) if r % 2 == 0 else (1, 0)):
                got[which] = gflops((args.base, args.new)[which], shape, args)
            base.append(got[0])
            new.append(got[1])
            ratio.append(got[1] / got[0])
        q = statistics.quantiles(ratio, n=4)
        print(f"{shape[0]:>6} {shape[1]:>6} {shape[2]:>6} | {statistics.median(base):>12.1f} "
              f"{statistics.median(new):>12.1f} | {statistics.median(ratio):>12.3f} {q[0]:>6.3f} {q[2]:>6.3f}")


if __name__ == "__main__":
    main()
