// Softmax statistics and top-k of rows of logits, on the host.
#pragma once

#include <cstdint>
#include <vector>

namespace layerlens {

struct TopK {
  int32_t k = 0;
  std::vector<int32_t> ids;       // [rows, k], best first; ties go to the lower id
  std::vector<float> logits;      // [rows, k]
  std::vector<float> probs;       // [rows, k], softmax over the whole row
  std::vector<double> logSumExp;  // [rows]
};

// Optional per-row measures of the lens distribution q = softmax(row).
struct RowMeasures {
  bool entropy = false;                  // H(q) in nats
  std::vector<int32_t> targets;          // per row: a token id, or -1 for none (empty = none at all)
  std::vector<int32_t> references;       // per row: index into `referenceLogProbs`, or -1 (empty = none)
  std::vector<float> referenceLogProbs;  // [R, width] log-probabilities of the reference rows
};

struct MeasureResults {
  std::vector<double> entropy;      // [rows]
  std::vector<float> targetLogit;   // [rows]
  std::vector<double> targetProb;   // [rows]
  std::vector<int32_t> targetRank;  // [rows], 1 = top; 0 where no target
  std::vector<double> kl;           // [rows], KL(reference ‖ q) in nats; NaN where no reference
};

// Sizes `out` for `rows` rows of k entries (and `results`, when given, for `rows` rows of measures,
// NaN / rank 0 until filled).
void prepareTopK(TopK& out, int64_t rows, int32_t k, MeasureResults* results = nullptr);

// Top-k, softmax probabilities of those k, and log-sum-exp of one row of `width` logits, written
// into output row `at`; with `measures`, also that row's measures into `results` (the row's index
// `at` selects its target and reference). Rows with different `at` may be filled concurrently.
void rowTopK(const float* logits, int64_t width, int64_t at, TopK& out, const RowMeasures* measures = nullptr,
             MeasureResults* results = nullptr);

// log-softmax of one row of `width` logits into out[0, width).
void logSoftmaxRow(const float* logits, int64_t width, float* out);

}  // namespace layerlens
