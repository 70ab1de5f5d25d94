#include "topk.hpp"

#include <algorithm>
#include <cmath>

#include "../vec_math.hpp"

namespace layerlens {
namespace {

// Σ e^(x[i] - shift), with the exponentials in vectorized f32 (the shift keeps every term ≤ 1 for
// shift = max x), summed in 16 float lanes per block of 256 and the blocks in double, so rounding
// stays near 1e-7 for 50k terms.
double sumExpShifted(const float* x, int64_t width, float shift) {
  constexpr int64_t kBlock = 256, kLanes = 16;
  double total = 0.0;
  int64_t b = 0;
  for (; b + kBlock <= width; b += kBlock) {
    float lane[kLanes] = {};
    for (int64_t j = 0; j < kBlock; j += kLanes) {
      for (int64_t l = 0; l < kLanes; ++l) lane[l] += expF32(x[b + j + l] - shift);
    }
    float partial = 0.0f;
    for (int64_t l = 0; l < kLanes; ++l) partial += lane[l];
    total += partial;
  }
  for (; b < width; ++b) total += expF32(x[b] - shift);
  return total;
}

void topKOfRow(const float* x, int64_t width, int32_t k, int32_t* ids, float* vals, float* probs, double* lse) {
  // Insertion into a small sorted list. Once it holds k entries nearly every element fails the
  // threshold test, so the row is scanned in chunks of 256 whose maximum (16 lanes, vectorized) is
  // checked first; only chunks holding a candidate are walked element by element.
  int32_t filled = 0;
  auto insert = [&](int64_t i) {
    const float v = x[i];
    int32_t j = filled < k ? filled++ : k - 1;
    while (j > 0 && v > vals[j - 1]) {  // equal values keep the earlier (lower) id
      vals[j] = vals[j - 1];
      ids[j] = ids[j - 1];
      --j;
    }
    vals[j] = v;
    ids[j] = int32_t(i);
  };
  auto walk = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      if (filled < k || x[i] > vals[k - 1]) insert(i);
    }
  };
  constexpr int64_t kChunk = 256, kLanes = 16;
  int64_t i = 0;
  for (; i + kChunk <= width; i += kChunk) {
    if (filled == k) {
      float lane[kLanes];
      for (int64_t l = 0; l < kLanes; ++l) lane[l] = x[i + l];
      for (int64_t j = kLanes; j < kChunk; j += kLanes) {
        for (int64_t l = 0; l < kLanes; ++l) lane[l] = lane[l] > x[i + j + l] ? lane[l] : x[i + j + l];
      }
      float m = lane[0];
      for (int64_t l = 1; l < kLanes; ++l) m = m > lane[l] ? m : lane[l];
      if (!(m > vals[k - 1])) continue;
    }
    walk(i, i + kChunk);
  }
  walk(i, width);
  const float maxv = vals[0];  // the list's first entry is the row's maximum
  *lse = double(maxv) + std::log(sumExpShifted(x, width, maxv));
  for (int32_t j = 0; j < k; ++j) probs[j] = float(std::exp(double(vals[j]) - *lse));
}

// Entropy, target statistics and KL(reference ‖ q) of one row, given its log-sum-exp.
void measuresOfRow(const float* x, int64_t width, double lse, const RowMeasures& m, int64_t row, MeasureResults& res,
                   size_t at) {
  if (m.entropy) {
    double h = 0.0;
    for (int64_t i = 0; i < width; ++i) {
      const double lq = double(x[i]) - lse;
      h -= std::exp(lq) * lq;
    }
    res.entropy[at] = h;
  }
  const int32_t t = m.targets.empty() ? -1 : m.targets[row];
  if (t >= 0 && t < width) {
    const float xt = x[t];
    int32_t above = 0;
    for (int64_t i = 0; i < width; ++i) above += (x[i] > xt || (x[i] == xt && i < t)) ? 1 : 0;
    res.targetLogit[at] = xt;
    res.targetProb[at] = std::exp(double(xt) - lse);
    res.targetRank[at] = above + 1;
  }
  const int32_t ref = m.references.empty() ? -1 : m.references[row];
  if (ref >= 0) {
    const float* lp = m.referenceLogProbs.data() + size_t(ref) * width;
    double kl = 0.0;
    for (int64_t i = 0; i < width; ++i) {
      const double p = std::exp(double(lp[i]));
      if (p > 0.0) kl += p * (double(lp[i]) - (double(x[i]) - lse));
    }
    res.kl[at] = kl;
  }
}

}  // namespace

void prepareTopK(TopK& out, int64_t rows, int32_t k, MeasureResults* results) {
  out.k = k;
  out.ids.assign(size_t(rows) * k, 0);
  out.logits.assign(size_t(rows) * k, 0.0f);
  out.probs.assign(size_t(rows) * k, 0.0f);
  out.logSumExp.assign(size_t(rows), 0.0);
  if (results) {
    results->entropy.assign(size_t(rows), std::nan(""));
    results->targetLogit.assign(size_t(rows), std::nanf(""));
    results->targetProb.assign(size_t(rows), std::nan(""));
    results->targetRank.assign(size_t(rows), 0);
    results->kl.assign(size_t(rows), std::nan(""));
  }
}

void rowTopK(const float* logits, int64_t width, int64_t at, TopK& out, const RowMeasures* measures,
             MeasureResults* results) {
  const size_t o = size_t(at) * out.k;
  topKOfRow(logits, width, out.k, &out.ids[o], &out.logits[o], &out.probs[o], &out.logSumExp[size_t(at)]);
  if (measures && results) measuresOfRow(logits, width, out.logSumExp[size_t(at)], *measures, at, *results, size_t(at));
}

void logSoftmaxRow(const float* x, int64_t width, float* out) {
  float maxv = -INFINITY;
  for (int64_t i = 0; i < width; ++i) maxv = std::max(maxv, x[i]);
  const double lse = double(maxv) + std::log(sumExpShifted(x, width, maxv));
  for (int64_t i = 0; i < width; ++i) out[i] = float(double(x[i]) - lse);
}

}  // namespace layerlens
