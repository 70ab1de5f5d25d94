// The composed ggml attention (mul_mat per head, diag_mask_inf, soft_max_ext, mul_mat, and the copies
// that make q, k and v contiguous) spent ~8 % of a gpt2-medium forward on 2 cores in per-element
// overheads: tens of thousands of 16..64-long dot products per layer, each with a scalar tail and a
// horizontal sum. Here each (head, query) pair is one task over strided rows, with no copies.
#include "attention.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "../vec_math.hpp"

namespace layerlens {
namespace {

struct Rows {
  const float* base;
  int64_t stride;  // floats between consecutive tokens
  const float* row(int64_t token, int64_t offset) const { return base + token * stride + offset; }
};

Rows rowsOf(const ggml_tensor* t) { return {static_cast<const float*>(t->data), int64_t(t->nb[1] / sizeof(float))}; }

float dot(const float* __restrict a, const float* __restrict b, int64_t n) {
  // 16 partial sums the compiler keeps in one vector register.
  float part[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int l = 0; l < 16; ++l) part[l] += a[i + l] * b[i + l];
  }
  float s = 0.0f;
  for (; i < n; ++i) s += a[i] * b[i];
  for (int l = 0; l < 16; ++l) s += part[l];
  return s;
}

// Tasks (head h, query i) = h·n + i, split in contiguous ranges across the threads.
void taskRange(int64_t tasks, int ith, int nth, int64_t& begin, int64_t& end) {
  const int64_t per = (tasks + nth - 1) / nth;
  begin = std::min(tasks, per * ith);
  end = std::min(tasks, begin + per);
}

// The keys query i attends to: [first, last], and where its row starts in the key axis. One sequence
// (no starts tensor): keys 0..i + n_past. Packed sequences (src[2] = I32 [n] each token's sequence
// start): keys start..i only, and the row holds them from column 0 (zero past its last key), so the
// pattern scratch is tokens × longest sequence rather than tokens², and every weight is summed by the
// same operations as in a run of that sequence alone.
struct KeySpan {
  int64_t first, last;
};

KeySpan keySpan(const ggml_tensor* starts, int64_t i, int64_t nKv, int64_t nPast) {
  if (!starts) return {0, std::min(nKv - 1, i + nPast)};
  return {int64_t(static_cast<const int32_t*>(starts->data)[i]), i};
}

void patternKernel(ggml_tensor* dst, int ith, int nth, void*) {
  const ggml_tensor *q = dst->src[0], *k = dst->src[1], *starts = dst->src[2];
  const int64_t width = dst->ne[0], n = dst->ne[1], nh = dst->ne[2], nKv = k->ne[1];
  const int64_t hd = q->ne[0] / nh, nPast = nKv - n;
  const float scale = 1.0f / std::sqrt(float(hd));
  const Rows Q = rowsOf(q), K = rowsOf(k);
  int64_t begin, end;
  taskRange(nh * n, ith, nth, begin, end);
  for (int64_t t = begin; t < end; ++t) {
    const int64_t h = t / n, i = t % n;
    const KeySpan span = keySpan(starts, i, nKv, nPast);
    const int64_t count = span.last - span.first + 1;
    float* out = static_cast<float*>(dst->data) + t * width;
    const float* qi = Q.row(i, h * hd);
    float maxv = -INFINITY;
    for (int64_t c = 0; c < count; ++c) {
      out[c] = scale * dot(qi, K.row(span.first + c, h * hd), hd);
      maxv = std::max(maxv, out[c]);
    }
    for (int64_t c = 0; c < count; ++c) out[c] = expF32(out[c] - maxv);
    double sum = 0.0;
    for (int64_t c = 0; c < count; ++c) sum += out[c];
    const float inv = float(1.0 / sum);
    for (int64_t c = 0; c < count; ++c) out[c] *= inv;
    for (int64_t c = count; c < width; ++c) out[c] = 0.0f;
  }
}

void mixKernel(ggml_tensor* dst, int ith, int nth, void*) {
  const ggml_tensor *pattern = dst->src[0], *v = dst->src[1], *starts = dst->src[2];
  const int64_t width = pattern->ne[0], n = pattern->ne[1], nh = pattern->ne[2], nKv = v->ne[1];
  const int64_t d = dst->ne[0], hd = d / nh, nPast = nKv - n;
  const Rows V = rowsOf(v);
  int64_t begin, end;
  taskRange(nh * n, ith, nth, begin, end);
  for (int64_t t = begin; t < end; ++t) {
    const int64_t h = t / n, i = t % n;
    const KeySpan span = keySpan(starts, i, nKv, nPast);
    const float* p = static_cast<const float*>(pattern->data) + t * width;
    float* __restrict out = static_cast<float*>(dst->data) + i * d + h * hd;
    std::fill(out, out + hd, 0.0f);
    for (int64_t c = 0; c <= span.last - span.first; ++c) {
      const float w = p[c];
      const float* __restrict vj = V.row(span.first + c, h * hd);
      for (int64_t e = 0; e < hd; ++e) out[e] += w * vj[e];
    }
  }
}

}  // namespace

ggml_tensor* buildAttnPattern(ggml_context* ctx, ggml_tensor* q, ggml_tensor* k, int nHead, ggml_tensor* seqStarts,
                              int64_t maxSeqLen) {
  ggml_tensor* args[3] = {q, k, seqStarts};
  const int64_t width = seqStarts ? maxSeqLen : k->ne[1];
  return ggml_custom_4d(ctx, GGML_TYPE_F32, width, q->ne[1], nHead, 1, args, seqStarts ? 3 : 2, patternKernel,
                        GGML_N_TASKS_MAX, nullptr);
}

ggml_tensor* buildAttnMix(ggml_context* ctx, ggml_tensor* pattern, ggml_tensor* v, ggml_tensor* seqStarts) {
  ggml_tensor* args[3] = {pattern, v, seqStarts};
  return ggml_custom_4d(ctx, GGML_TYPE_F32, v->ne[0], pattern->ne[1], 1, 1, args, seqStarts ? 3 : 2, mixKernel,
                        GGML_N_TASKS_MAX, nullptr);
}

}  // namespace layerlens
