// Causal self-attention as two CPU ops (see docs/architecture.md, "Attention on the CPU").
#pragma once

#include <cstdint>

#include "ggml.h"

namespace layerlens {

// softmax(scale · q·kᵀ) per head with the causal mask, as [n_kv, n, n_head]: row (i, h) holds query
// i's weights over keys 0..n_kv−1, zero past key i + n_past (n_past = n_kv − n). q is [d, n] and k is
// [d, n_kv]: f32 rows of d = n_head · head_dim, any row stride (views into the fused qkv are fine).
// scale = 1/√head_dim, GPT-2's.
//
// Packed sequences (seqStarts: I32 [n], each token's first row in the batch; n_kv = n): attention is
// block-diagonal causal, query i sees keys seqStarts[i]..i only, and the result is [maxSeqLen, n, n_head]
// with row (i, h) holding those keys from column 0 (then zeros): a scratch of tokens × longest sequence,
// not tokens², and each weight computed by the same operations as in a run of i's sequence alone.
ggml_tensor* buildAttnPattern(ggml_context* ctx, ggml_tensor* q, ggml_tensor* k, int nHead,
                              ggml_tensor* seqStarts = nullptr, int64_t maxSeqLen = 0);

// Σ_j pattern[j, i, h] · v[h's slice, j], heads side by side: [d, n], the input of attn.c_proj.
// seqStarts as given to buildAttnPattern.
ggml_tensor* buildAttnMix(ggml_context* ctx, ggml_tensor* pattern, ggml_tensor* v, ggml_tensor* seqStarts = nullptr);

}  // namespace layerlens
