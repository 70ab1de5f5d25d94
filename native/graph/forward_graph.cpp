#include "forward_graph.hpp"

#include "attention.hpp"
#include "gelu.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace layerlens {
namespace {

ggml_tensor* named(ggml_tensor* t, const std::string& name) {
  ggml_set_name(t, name.c_str());
  return t;
}

ggml_tensor* contiguous(ggml_context* ctx, ggml_tensor* t) { return ggml_is_contiguous(t) ? t : ggml_cont(ctx, t); }

}  // namespace

ggml_tensor* exactMatmul(ggml_context* ctx, ggml_tensor* w, ggml_tensor* x, int64_t minCols) {
  const int64_t n = x->ne[1];
  if (minCols <= 0 || n < 2 || n >= minCols) return ggml_mul_mat(ctx, w, x);
  ggml_tensor* y = ggml_mul_mat(ctx, w, ggml_pad(ctx, x, 0, int(minCols - n), 0, 0));
  ggml_tensor* first = ggml_view_3d(ctx, y, y->ne[0], n, y->ne[2], y->nb[1], y->nb[2], 0);
  return y->ne[2] > 1 ? ggml_cont(ctx, first) : first;  // 2-D: the first n columns are contiguous already
}

namespace {

ggml_tensor* layerNorm(ggml_context* ctx, ggml_tensor* x, ggml_tensor* weight, ggml_tensor* bias, float eps) {
  return ggml_add(ctx, ggml_mul(ctx, ggml_norm(ctx, x, eps), weight), bias);
}

ggml_tensor* linear(ggml_context* ctx, ggml_tensor* x, ggml_tensor* weight, ggml_tensor* bias, int64_t minCols) {
  return ggml_add(ctx, exactMatmul(ctx, weight, x, minCols), bias);
}

}  // namespace

KvCache KvCache::create(const HParams& hp, ggml_backend_t backend) {
  KvCache c;
  c.capacity = hp.nCtx;
  c.ctx = makeMetaContext(2 * size_t(hp.nLayer));
  for (int l = 0; l < hp.nLayer; ++l) {
    c.k.push_back(ggml_new_tensor_1d(c.ctx.get(), GGML_TYPE_F32, int64_t(hp.nEmbd) * hp.nCtx));
    c.v.push_back(ggml_new_tensor_1d(c.ctx.get(), GGML_TYPE_F32, int64_t(hp.nEmbd) * hp.nCtx));
  }
  c.buffer.reset(ggml_backend_alloc_ctx_tensors(c.ctx.get(), backend));
  if (!c.buffer) throw std::runtime_error("could not allocate the KV cache (out of memory?)");
  return c;
}

namespace {
constexpr size_t kTapAlign = 64;  // floats
size_t padTap(size_t floats) { return (floats + kTapAlign - 1) / kTapAlign * kTapAlign; }
}  // namespace

size_t tapFloats(const HParams& hp, const OutputTaps& taps, int64_t nTokens, int64_t nKv) {
  const size_t rows = size_t(taps.nPositions > 0 ? taps.nPositions : nTokens);
  size_t total = 0;
  for (const HookRef& ref : taps.hooks) total += padTap(size_t(hookPositionWidth(ref.kind, hp, nKv)) * rows);
  return total;
}

TapArena TapArena::create(ggml_backend_t backend, size_t floats) {
  TapArena a;
  a.ctx = makeMetaContext(1);
  a.tensor = ggml_new_tensor_1d(a.ctx.get(), GGML_TYPE_F32, int64_t(std::max<size_t>(floats, 1)));
  ggml_set_name(a.tensor, "taps.arena");
  a.buffer.reset(ggml_backend_alloc_ctx_tensors(a.ctx.get(), backend));
  if (!a.buffer)
    throw std::runtime_error("could not allocate " + std::to_string(floats * sizeof(float) >> 20) +
                             " MiB for the captured rows (out of memory?)");
  return a;
}

size_t forwardGraphSize(const HParams& hp) { return size_t(hp.nLayer) * 100 + 512; }

ggml_tensor* buildUnembed(ggml_context* ctx, const Weights& w, ggml_tensor* x, int64_t minCols) {
  return exactMatmul(ctx, w.wte, layerNorm(ctx, x, w.lnfWeight, w.lnfBias, w.hp.eps), minCols);
}

ForwardGraph buildForwardGraph(ggml_context* ctx, const Weights& w, int32_t nTokens, int32_t nPast, KvCache* cache,
                               const GraphExtras& extras) {
  OutputTaps* taps = extras.taps;
  const int64_t mc = extras.minMatmulCols;
  const HParams& hp = w.hp;
  const int64_t d = hp.nEmbd, nh = hp.nHead, hd = hp.headDim(), n = nTokens, nKv = int64_t(nPast) + nTokens;
  if (!cache && nPast != 0) throw std::logic_error("buildForwardGraph: nPast without a cache");
  const bool packed = extras.maxSeqLen > 0;
  if (packed && (cache || extras.maxSeqLen > nTokens))
    throw std::logic_error("buildForwardGraph: packed sequences take no cache and fit in the tokens");

  ForwardGraph fg;
  fg.graph = ggml_new_graph_custom(ctx, forwardGraphSize(hp), false);
  fg.tokens = named(ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n), "input.tokens");
  ggml_set_input(fg.tokens);
  fg.positions = named(ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n), "input.positions");
  ggml_set_input(fg.positions);

  if (taps) {
    if (!taps->arena) throw std::logic_error("buildForwardGraph: output taps without an arena");
    taps->tensors.assign(taps->hooks.size(), nullptr);
    taps->offsets.assign(taps->hooks.size(), 0);
    taps->used = 0;
  }
  // The row indices are created on first use: an input no node reads would get no buffer.
  auto tapRows = [&](bool byHead) {
    ggml_tensor*& t = byHead ? taps->rowsByHead : taps->rows;
    if (!t) {
      t = byHead ? named(ggml_new_tensor_2d(ctx, GGML_TYPE_I32, taps->nPositions, nh), "input.tap_rows_by_head")
                 : named(ggml_new_tensor_1d(ctx, GGML_TYPE_I32, taps->nPositions), "input.tap_rows");
      ggml_set_input(t);
    }
    return t;
  };
  // Names a hook node and, when it is tapped, gathers its wanted rows into an output right away,
  // so the allocator can reuse the hook's memory as soon as the graph moves on. The hook is
  // matched by {kind, layer}; its name is made only for ggml (node names, the eval callback).
  auto hook = [&](ggml_tensor* t, HookKind kind, int32_t layer) {
    const HookRef ref{kind, layer};
    const std::string name = hookName(ref);
    if (extras.interventions) {
      for (const InterventionSpec& iv : *extras.interventions) {
        if (iv.hook != ref) continue;
        auto input = [&](const std::vector<float>& values, const char* what) {
          ggml_tensor* in =
              named(ggml_new_tensor_2d(ctx, GGML_TYPE_F32, t->ne[0], t->ne[1]), "intervention." + name + what);
          ggml_set_input(in);
          fg.interventionInputs.emplace_back(in, &values);
          return in;
        };
        if (!iv.mul.empty()) t = ggml_mul(ctx, t, input(iv.mul, ".mul"));
        if (!iv.add.empty()) t = ggml_add(ctx, t, input(iv.add, ".add"));
      }
    }
    named(t, name);
    if (!taps) return t;
    auto it = std::find(taps->hooks.begin(), taps->hooks.end(), ref);
    if (it == taps->hooks.end()) return t;
    ggml_tensor* rows = taps->nPositions > 0 ? ggml_get_rows(ctx, t, tapRows(t->ne[2] > 1)) : t;
    const size_t count = size_t(ggml_nelements(rows)), i = size_t(it - taps->hooks.begin());
    if (taps->used + count > size_t(ggml_nelements(taps->arena)))
      throw std::logic_error("buildForwardGraph: the tap arena is too small");
    ggml_tensor* dst = ggml_view_1d(ctx, taps->arena, int64_t(count), taps->used * sizeof(float));
    ggml_build_forward_expand(fg.graph, named(ggml_cpy(ctx, rows, dst), "tap." + name));
    taps->tensors[i] = rows;
    taps->offsets[i] = taps->used;
    taps->used += padTap(count);
    return t;
  };

  // Every hook is its own node (never an in-place op), so the eval callback sees its final value.
  ggml_tensor* resid =
      hook(ggml_add(ctx, ggml_get_rows(ctx, w.wte, fg.tokens), ggml_get_rows(ctx, w.wpe, fg.positions)),
           HookKind::Embed, -1);

  for (int l = 0; l < hp.nLayer; ++l) {
    const BlockWeights& b = w.blocks[l];

    // Attention. qkv: [3d, n] with Q, K, V stacked along ne0.
    ggml_tensor* qkv =
        linear(ctx, layerNorm(ctx, resid, b.ln1Weight, b.ln1Bias, hp.eps), b.attnQkvWeight, b.attnQkvBias, mc);
    const size_t es = ggml_element_size(qkv);
    // [d, n] views into qkv, rows 3d apart.
    ggml_tensor* q = ggml_view_2d(ctx, qkv, d, n, qkv->nb[1], 0);
    ggml_tensor* k = ggml_view_2d(ctx, qkv, d, n, qkv->nb[1], d * es);
    ggml_tensor* v = ggml_view_2d(ctx, qkv, d, n, qkv->nb[1], 2 * d * es);
    if (cache) {
      // Write this step's keys/values, then attend over the whole cached prefix. The copies are
      // expanded into the graph first so they run before the reads below.
      const size_t ekv = ggml_element_size(cache->k[l]);
      ggml_tensor* kDst = ggml_view_1d(ctx, cache->k[l], n * d, size_t(nPast) * d * ekv);
      ggml_tensor* vDst = ggml_view_1d(ctx, cache->v[l], n * d, size_t(nPast) * d * ekv);
      ggml_build_forward_expand(fg.graph, ggml_cpy(ctx, contiguous(ctx, k), kDst));
      ggml_build_forward_expand(fg.graph, ggml_cpy(ctx, contiguous(ctx, v), vDst));
      k = ggml_view_2d(ctx, cache->k[l], d, nKv, d * ekv, 0);
      v = ggml_view_2d(ctx, cache->v[l], d, nKv, d * ekv, 0);
    }
    const bool headOutputs = size_t(l) < extras.headOutputs.size() && extras.headOutputs[l];
    ggml_tensor* pattern;
    ggml_tensor* merged;         // [d, n]: the heads' outputs side by side, c_proj's input
    ggml_tensor* kqv = nullptr;  // [hd, n, nh]: the same per head, only for attn_head_out
    if (extras.cpuKernels) {
      if (packed && !fg.seqStarts) {
        fg.seqStarts = named(ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n), "input.seq_starts");
        ggml_set_input(fg.seqStarts);
      }
      pattern = hook(buildAttnPattern(ctx, q, k, int(nh), fg.seqStarts, extras.maxSeqLen), HookKind::AttnPattern, l);
      merged = buildAttnMix(ctx, pattern, v, fg.seqStarts);
      if (headOutputs) kqv = ggml_cont(ctx, ggml_permute(ctx, ggml_reshape_3d(ctx, merged, hd, nh, n), 0, 2, 1, 3));
    } else {
      ggml_tensor* Q =
          ggml_permute(ctx, ggml_reshape_3d(ctx, contiguous(ctx, q), hd, nh, n), 0, 2, 1, 3);  // [hd, n, nh]
      ggml_tensor* K =
          ggml_permute(ctx, ggml_reshape_3d(ctx, contiguous(ctx, k), hd, nh, nKv), 0, 2, 1, 3);  // [hd, nKv, nh]
      ggml_tensor* Vt = ggml_cont(
          ctx, ggml_permute(ctx, ggml_reshape_3d(ctx, contiguous(ctx, v), hd, nh, nKv), 1, 2, 0, 3));  // [nKv, hd, nh]
      ggml_tensor* scores = exactMatmul(ctx, K, Q, mc);                                                // [nKv, n, nh]
      if (packed && !fg.attnMask) {
        fg.attnMask = named(ggml_new_tensor_2d(ctx, GGML_TYPE_F32, n, n), "input.attn_mask");
        ggml_set_input(fg.attnMask);
      }
      // One sequence: the causal mask in place; packed ones: the block-diagonal causal mask, added by the softmax.
      if (!packed) scores = ggml_diag_mask_inf(ctx, scores, nPast);
      pattern = hook(ggml_soft_max_ext(ctx, scores, fg.attnMask, 1.0f / std::sqrt(float(hd)), 0.0f),
                     HookKind::AttnPattern, l);
      kqv = exactMatmul(ctx, Vt, pattern, mc);  // [hd, n, nh]
      merged = ggml_cont_2d(ctx, ggml_permute(ctx, kqv, 0, 2, 1, 3), d, n);
    }
    if (headOutputs) {
      // Each head through its own rows of c_proj: W_O viewed as [hd, nh, d], one [hd, d] matrix per head.
      ggml_tensor* wo =
          ggml_cont(ctx, ggml_permute(ctx, ggml_reshape_3d(ctx, b.attnProjWeight, hd, nh, d), 0, 2, 1, 3));
      // Nothing downstream reads it, so it joins the graph explicitly (right here, in block order).
      ggml_build_forward_expand(fg.graph, hook(exactMatmul(ctx, wo, kqv, mc), HookKind::AttnHeadOut, l));  // [d, n, nh]
    }
    ggml_tensor* attnOut = hook(linear(ctx, merged, b.attnProjWeight, b.attnProjBias, mc), HookKind::AttnOut, l);
    ggml_tensor* residMid = hook(ggml_add(ctx, resid, attnOut), HookKind::ResidMid, l);

    // MLP.
    ggml_tensor* fc =
        linear(ctx, layerNorm(ctx, residMid, b.ln2Weight, b.ln2Bias, hp.eps), b.mlpFcWeight, b.mlpFcBias, mc);
    ggml_tensor* mlpPost = hook(buildGeluNew(ctx, fc, extras.cpuKernels), HookKind::MlpPost, l);
    ggml_tensor* mlpOut = hook(linear(ctx, mlpPost, b.mlpProjWeight, b.mlpProjBias, mc), HookKind::MlpOut, l);
    resid = hook(ggml_add(ctx, residMid, mlpOut), HookKind::ResidPost, l);
  }

  if (!extras.logits) {
    ggml_build_forward_expand(fg.graph, resid);
    return fg;
  }
  ggml_tensor* last;
  if (packed) {
    fg.logitRows = named(ggml_new_tensor_1d(ctx, GGML_TYPE_I32, extras.nLogitRows), "input.logit_rows");
    ggml_set_input(fg.logitRows);
    last = ggml_get_rows(ctx, resid, fg.logitRows);
  } else {
    last = ggml_view_2d(ctx, resid, d, 1, resid->nb[1], size_t(n - 1) * resid->nb[1]);
  }
  fg.logits = named(buildUnembed(ctx, w, last, mc), "logits");
  ggml_set_output(fg.logits);
  ggml_build_forward_expand(fg.graph, fg.logits);
  return fg;
}

}  // namespace layerlens
