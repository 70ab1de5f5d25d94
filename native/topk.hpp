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

// Appends the top-k of each of `rows` rows of `width` logits to `out`, using up to nThreads threads.
void appendTopK(const float* logits, int64_t rows, int64_t width, int32_t k, int nThreads, TopK& out);

}  // namespace layerlens
