#!/usr/bin/env python3
"""The notebook's own method, timed on the same checkpoint layerlens benchmarks (issue 5's baseline).

Hugging Face transformers with output_hidden_states=True, then for every hidden state the last
token's vector through ln_f, lm_head, softmax and top-k in PyTorch, exactly as the notebook does
(one layer at a time, results pulled to Python). Prints one JSON object.

    python3 scripts/hf-baseline.py CHECKPOINT_DIR [--device cuda|cpu] [--runs N] [--out FILE]

Needs torch and transformers (present on the GPU machines; not a dependency of layerlens).
"""
import argparse
import json
import statistics
import time

import torch
from transformers import GPT2LMHeadModel

# The notebook's prompt, tokenized with GPT-2's BPE (26 tokens).
NOTEBOOK_IDS = [48, 25, 1867, 318, 262, 3139, 286, 4881, 30, 198, 32, 25, 6342, 198, 48, 25, 1867, 318, 262, 3139, 286, 12873, 30, 198, 32, 25]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--top-k", type=int, default=5)
    ap.add_argument("--out")
    args = ap.parse_args()

    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    t0 = time.perf_counter()
    model = GPT2LMHeadModel.from_pretrained(args.checkpoint, torch_dtype=torch.float32).to(dev).eval()
    sync()
    load_s = time.perf_counter() - t0
    ids = torch.tensor([NOTEBOOK_IDS], device=dev)

    def forward():
        with torch.no_grad():
            model(ids)
        sync()

    def notebook_method():
        with torch.no_grad():
            out = model(ids, output_hidden_states=True)
            results = []
            for h in out.hidden_states:
                normed = model.transformer.ln_f(h[:, -1, :])
                probs = torch.softmax(model.lm_head(normed), dim=-1)
                p, i = torch.topk(probs, k=args.top_k, dim=-1)
                results.append((p[0].tolist(), i[0].tolist()))
        sync()
        return results

    def timed(fn):
        fn()
        fn()
        ms = []
        for _ in range(args.runs):
            t = time.perf_counter()
            fn()
            ms.append((time.perf_counter() - t) * 1e3)
        return statistics.median(ms)

    result = {
        "method": "transformers output_hidden_states + per-layer ln_f/lm_head/softmax/top-k (the notebook)",
        "device": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "points": model.config.n_layer + 1,
        "load_s": load_s,
        "ms": {"forward": timed(forward), "notebook_method": timed(notebook_method)},
        "runs": args.runs,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
