#include "packed_batch.hpp"

#include <algorithm>

namespace layerlens {

PackedBatch packBatch(const BatchRunRequest& req, const CheckedBatch& checked) {
  const size_t S = req.sequences.size();
  PackedBatch p;
  p.tokens.reserve(size_t(checked.totalTokens));
  p.firstRow.assign(S + 1, 0);
  for (size_t s = 0; s < S; ++s) {
    const std::vector<int32_t>& seq = req.sequences[s];
    const int32_t offset = int32_t(p.tokens.size()), n = int32_t(seq.size());
    p.longest = std::max(p.longest, n);
    p.tokens.insert(p.tokens.end(), seq.begin(), seq.end());
    for (int32_t i = 0; i < n; ++i) {
      p.positions.push_back(i);
      p.sequence.push_back(int32_t(s));
      p.starts.push_back(offset);
    }
    p.firstRow[s] = p.rows.size();
    for (int32_t pos : checked.positions[s]) p.rows.push_back(offset + pos);
    p.onlyLastRows = p.onlyLastRows && checked.positions[s].size() == 1 && checked.positions[s][0] == n - 1;
    p.lastRows.push_back(offset + n - 1);
  }
  p.firstRow[S] = p.rows.size();
  return p;
}

std::vector<RunResult> splitCapturedRows(const PackedBatch& packed, const std::vector<CapturedTensor>& captured) {
  const size_t S = packed.lastRows.size();
  std::vector<RunResult> out(S);
  for (size_t s = 0; s < S; ++s) {
    const size_t first = packed.firstRow[s], end = packed.firstRow[s + 1];
    for (const CapturedTensor& c : captured) {
      const size_t width = size_t(c.shape[1]);
      CapturedTensor t;
      t.hook = c.hook;
      t.shape = {int64_t(end - first), int64_t(width)};
      t.data.assign(c.data.begin() + ptrdiff_t(first * width), c.data.begin() + ptrdiff_t(end * width));
      out[s].captured.push_back(std::move(t));
    }
  }
  return out;
}

}  // namespace layerlens
