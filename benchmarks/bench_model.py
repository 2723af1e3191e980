"""End-to-end CPU inference time of grefbench's ReLA at 480x480 (what `grefbench eval` runs per image).

Times `model(images, lang_tokens, lang_mask)` in inference mode, batch 1, with a fixed number of
threads, after warm-up; prints the median and the per-stage split. With `--official-seconds` (the
official implementation's median, measured separately with the same weights, inputs and threads,
because its code cannot ship here) it prints the ratio.

usage: python benchmarks/bench_model.py [--config rela_r50 --weights model_final.pth] [--threads 2]
                                         [--runs 7] [--official-seconds 1.674]
Without --weights the model has random weights (the time does not depend on their values).
"""

import argparse
import statistics
import time

import torch

from grefbench.models import load_model


def stage_times(model, images, tokens, mask) -> dict[str, float]:
    """Seconds spent in each top-level stage during one forward pass (forward hooks)."""
    spans: dict[str, float] = {}
    hooks = []
    for name, module in (("text", model.text_encoder), ("backbone", model.backbone),
                         ("pixel decoder", model.sem_seg_head.pixel_decoder),
                         ("decoder", model.sem_seg_head.predictor)):
        hooks.append(module.register_forward_pre_hook(lambda m, i, n=name: spans.__setitem__(n, -time.perf_counter())))
        hooks.append(module.register_forward_hook(lambda m, i, o, n=name: spans.__setitem__(n, spans[n] + time.perf_counter())))
    with torch.inference_mode():
        model(images, tokens, mask)
    for hook in hooks:
        hook.remove()
    return spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="rela_swin_b")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--size", type=int, default=480)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--official-seconds", type=float, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model("rela", config=args.config, weights=args.weights)
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (1, 3, args.size, args.size), dtype=torch.uint8, generator=generator)
    tokens = torch.zeros(1, 20, dtype=torch.int64)
    tokens[0, :8] = torch.tensor([101, 1996, 2158, 2006, 1996, 2187, 1997, 102])
    mask = (tokens > 0).long()
    times = []
    for run in range(args.warmup + args.runs):
        start = time.perf_counter()
        with torch.inference_mode():
            model(images, tokens, mask)
        if run >= args.warmup:
            times.append(time.perf_counter() - start)
    median = statistics.median(times)
    spans = stage_times(model, images, tokens, mask)
    print(f"grefbench {args.config} {args.size}x{args.size}, batch 1, {args.threads} threads, torch {torch.__version__}")
    print(f"  median {median:.3f} s/image (min {min(times):.3f}, {args.runs} runs)")
    print("  stages: " + ", ".join(f"{k} {v:.3f} s" for k, v in spans.items()))
    if args.official_seconds:
        print(f"  official {args.official_seconds:.3f} s/image -> grefbench is {args.official_seconds / median:.2f}x faster")


if __name__ == "__main__":
    main()
