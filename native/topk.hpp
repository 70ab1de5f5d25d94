// Softmax statistics and top-k of rows of logits, on the host.
#pragma once

#include <cstdint>
#include <vector>

namespace layerlens {

struct TopK {
  int32_t k = 0;
  std::vector<int32_t> ids;      // [rows, k], best first; ties go to the lower id
  std::vector<float> logits;     // [rows, k]
  std::vector<float> probs;      // [rows, k], softmax over the whole row
  std::vector<double> logSumExp; // [rows]
};

// Optional per-row measures of the lens distribution q = softmax(row).
struct RowMeasures {
  bool entropy = false;                 // H(q) in nats
  std::vector<int32_t> targets;         // per row: a token id, or -1 for none (empty = none at all)
  std::vector<int32_t> references;      // per row: index into `referenceLogProbs`, or -1 (empty = none)
  std::vector<float> referenceLogProbs; // [R, width] log-probabilities of the reference rows
};

struct MeasureResults {
  std::vector<double> entropy;      // [rows]
  std::vector<float> targetLogit;   // [rows]
  std::vector<double> targetProb;   // [rows]
  std::vector<int32_t> targetRank;  // [rows], 1 = top; 0 where no target
  std::vector<double> kl;           // [rows], KL(reference ‖ q) in nats; NaN where no reference
};

// Appends the top-k of each of `rows` rows of `width` logits to `out`, using up to nThreads threads.
// With `measures`, also appends each row's measures to `results`; `firstRow` is the index of
// logits' first row among all rows (for the per-row target/reference lists).
// Rows are `stride` floats apart, of which the first `width` count.
void appendTopK(const float* logits, int64_t rows, int64_t width, int64_t stride, int32_t k, int nThreads, TopK& out,
                const RowMeasures* measures = nullptr, int64_t firstRow = 0, MeasureResults* results = nullptr);

// log-softmax of each of `rows` rows of `width` logits, appended to `out`.
void appendLogSoftmax(const float* logits, int64_t rows, int64_t width, int64_t stride, std::vector<float>& out);

}  // namespace layerlens
