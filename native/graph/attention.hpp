// Causal self-attention as two CPU ops (see docs/architecture.md, "Attention on the CPU").
#pragma once

#include "ggml.h"

namespace layerlens {

// softmax(scale · q·kᵀ) per head with the causal mask, as [n_kv, n, n_head]: row (i, h) holds query
// i's weights over keys 0..n_kv−1, zero past key i + n_past (n_past = n_kv − n). q is [d, n] and k is
// [d, n_kv]: f32 rows of d = n_head · head_dim, any row stride (views into the fused qkv are fine).
// scale = 1/√head_dim, GPT-2's.
ggml_tensor* buildAttnPattern(ggml_context* ctx, ggml_tensor* q, ggml_tensor* k, int nHead);

// Σ_j pattern[j, i, h] · v[h's slice, j], heads side by side: [d, n], the input of attn.c_proj.
ggml_tensor* buildAttnMix(ggml_context* ctx, ggml_tensor* pattern, ggml_tensor* v);

}  // namespace layerlens
