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

void patternKernel(ggml_tensor* dst, int ith, int nth, void*) {
  const ggml_tensor *q = dst->src[0], *k = dst->src[1];
  const int64_t nKv = dst->ne[0], n = dst->ne[1], nh = dst->ne[2];
  const int64_t hd = q->ne[0] / nh, nPast = nKv - n;
  const float scale = 1.0f / std::sqrt(float(hd));
  const Rows Q = rowsOf(q), K = rowsOf(k);
  int64_t begin, end;
  taskRange(nh * n, ith, nth, begin, end);
  for (int64_t t = begin; t < end; ++t) {
    const int64_t h = t / n, i = t % n, last = std::min(nKv - 1, i + nPast);
    float* out = static_cast<float*>(dst->data) + t * nKv;
    const float* qi = Q.row(i, h * hd);
    float maxv = -INFINITY;
    for (int64_t j = 0; j <= last; ++j) {
      out[j] = scale * dot(qi, K.row(j, h * hd), hd);
      maxv = std::max(maxv, out[j]);
    }
    for (int64_t j = 0; j <= last; ++j) out[j] = expF32(out[j] - maxv);
    double sum = 0.0;
    for (int64_t j = 0; j <= last; ++j) sum += out[j];
    const float inv = float(1.0 / sum);
    for (int64_t j = 0; j <= last; ++j) out[j] *= inv;
    for (int64_t j = last + 1; j < nKv; ++j) out[j] = 0.0f;
  }
}

void mixKernel(ggml_tensor* dst, int ith, int nth, void*) {
  const ggml_tensor *pattern = dst->src[0], *v = dst->src[1];
  const int64_t nKv = pattern->ne[0], n = pattern->ne[1], nh = pattern->ne[2];
  const int64_t d = dst->ne[0], hd = d / nh, nPast = nKv - n;
  const Rows V = rowsOf(v);
  int64_t begin, end;
  taskRange(nh * n, ith, nth, begin, end);
  for (int64_t t = begin; t < end; ++t) {
    const int64_t h = t / n, i = t % n, last = std::min(nKv - 1, i + nPast);
    const float* p = static_cast<const float*>(pattern->data) + t * nKv;
    float* __restrict out = static_cast<float*>(dst->data) + i * d + h * hd;
    std::fill(out, out + hd, 0.0f);
    for (int64_t j = 0; j <= last; ++j) {
      const float w = p[j];
      const float* __restrict vj = V.row(j, h * hd);
      for (int64_t c = 0; c < hd; ++c) out[c] += w * vj[c];
    }
  }
}

}  // namespace

ggml_tensor* buildAttnPattern(ggml_context* ctx, ggml_tensor* q, ggml_tensor* k, int nHead) {
  ggml_tensor* args[2] = {q, k};
  return ggml_custom_4d(ctx, GGML_TYPE_F32, k->ne[1], q->ne[1], nHead, 1, args, 2, patternKernel, GGML_N_TASKS_MAX,
                        nullptr);
}

ggml_tensor* buildAttnMix(ggml_context* ctx, ggml_tensor* pattern, ggml_tensor* v) {
  ggml_tensor* args[2] = {pattern, v};
  return ggml_custom_4d(ctx, GGML_TYPE_F32, v->ne[0], pattern->ne[1], 1, 1, args, 2, mixKernel, GGML_N_TASKS_MAX,
                        nullptr);
}

}  // namespace layerlens
