"""A real process that prints nanoGPT's lines in real time, for the live alert benchmark.

It sleeps what each iteration, eval and checkpoint takes and prints what nanoGPT's ``train.py`` prints (config
echo, ``step N: train loss …, val loss …``, ``saving checkpoint to …``, ``iter N: loss …, time …ms, mfu …%``)
with a flush per line (or in blocks, ``--buffer 8192``, as ``python train.py > log`` without ``-u`` writes), so the
exporter sees a live log; the benchmark SIGSTOPs it for a hang. Phases are given
in seconds since start: ``--slow-at 180 --slow-factor 3`` (lasting), ``--blip-at 240 --blip-seconds 30``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--log", required=True)
    p.add_argument("--max-iters", type=int, default=100000)
    p.add_argument("--pace", type=float, default=0.05, help="seconds per iteration")
    p.add_argument("--log-interval", type=int, default=10)
    p.add_argument("--eval-interval", type=int, default=0, help="0: no evals")
    p.add_argument("--eval-seconds", type=float, default=3.0)
    p.add_argument("--checkpoint-every", type=int, default=0, help="a checkpoint after every k-th eval (0: none)")
    p.add_argument("--checkpoint-seconds", type=float, default=0.0)
    p.add_argument("--compile-seconds", type=float, default=0.0)
    p.add_argument("--slow-at", type=float, default=None)
    p.add_argument("--slow-factor", type=float, default=3.0)
    p.add_argument("--blip-at", type=float, default=None)
    p.add_argument("--blip-seconds", type=float, default=30.0)
    p.add_argument("--blip-factor", type=float, default=2.5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--buffer", type=int, default=0,
                   help="write in blocks of this many bytes, as a block-buffered stdout does (0: a flush per line)")
    args = p.parse_args()
    rnd = random.Random(args.seed)
    out = open(args.log, "a", buffering=args.buffer or 1)
    start = time.time()
    out.write(f"Overriding: max_iters = {args.max_iters}\n")
    out.write(f"Overriding: log_interval = {args.log_interval}\n")
    if args.eval_interval:
        out.write(f"Overriding: eval_interval = {args.eval_interval}\n")
    out.write("compiling the model... (takes a ~minute)\n")
    evals = 0
    for it in range(args.max_iters + 1):
        began = time.time()
        if it == 0:
            time.sleep(args.compile_seconds)
        if args.eval_interval and it % args.eval_interval == 0 and it > 0:
            time.sleep(args.eval_seconds)
            out.write(f"step {it}: train loss {2 + rnd.random():.4f}, val loss {2 + rnd.random():.4f}\n")
            evals += 1
            if args.checkpoint_every and evals % args.checkpoint_every == 0:
                out.write("saving checkpoint to out\n")
                time.sleep(args.checkpoint_seconds)
        factor = 1.0
        elapsed = time.time() - start
        if args.slow_at is not None and elapsed >= args.slow_at:
            factor *= args.slow_factor
        if args.blip_at is not None and args.blip_at <= elapsed < args.blip_at + args.blip_seconds:
            factor *= args.blip_factor
        time.sleep(args.pace * factor * rnd.lognormvariate(0, 0.05))
        if it % args.log_interval == 0:
            dt = time.time() - began
            out.write(f"iter {it}: loss {1 + rnd.random():.4f}, time {dt * 1000:.2f}ms, mfu {30 + rnd.random():.2f}%\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
