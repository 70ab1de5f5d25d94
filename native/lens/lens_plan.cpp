#include "lens_plan.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace layerlens {

LensPlan planLens(int64_t m, const std::vector<RowSum>& sums, int64_t chunk) {
  if (chunk < 1) throw std::logic_error("planLens: chunk must be positive");
  constexpr int64_t kNone = -1;
  std::vector<std::pair<int64_t, int64_t>> from(size_t(m), {kNone, kNone});
  for (const RowSum& s : sums) {
    if (s.row == s.a || s.row == s.b || from[size_t(s.row)].first != kNone) continue;
    from[size_t(s.row)] = {s.a, s.b};
  }
  std::vector<int32_t> readers(size_t(m), 0);
  for (int64_t r = 0; r < m; ++r) {
    if (from[size_t(r)].first == kNone) continue;
    ++readers[size_t(from[size_t(r)].first)];
    ++readers[size_t(from[size_t(r)].second)];
  }

  // Iterative depth-first post-order: operands before the rows built from them. Roots first (rows
  // no sum reads), then whatever is left (rows only reachable through a cycle).
  enum : uint8_t { kUnseen, kOpen, kDone };
  std::vector<uint8_t> state(size_t(m), kUnseen);
  std::vector<int64_t> order;
  order.reserve(size_t(m));
  std::vector<std::pair<int64_t, int>> stack;  // row, operands visited so far
  auto visit = [&](int64_t root) {
    if (state[size_t(root)] != kUnseen) return;
    state[size_t(root)] = kOpen;
    stack.emplace_back(root, 0);
    while (!stack.empty()) {
      auto& [row, next] = stack.back();
      const auto& [a, b] = from[size_t(row)];
      if (a != kNone && next < 2) {
        const int64_t child = next++ == 0 ? a : b;
        if (state[size_t(child)] == kUnseen) {
          state[size_t(child)] = kOpen;
          stack.emplace_back(child, 0);  // invalidates row/next; the loop re-reads the top
        } else if (state[size_t(child)] == kOpen) {
          from[size_t(row)] = {kNone, kNone};  // a cycle: this row gets projected instead
        }
        continue;
      }
      state[size_t(row)] = kDone;
      order.push_back(row);
      stack.pop_back();
    }
  };
  for (int64_t r = 0; r < m; ++r) {
    if (readers[size_t(r)] == 0) visit(r);
  }
  for (int64_t r = 0; r < m; ++r) visit(r);

  LensPlan plan;
  plan.uses.assign(size_t(m), 0);
  for (int64_t r = 0; r < m; ++r) {
    if (from[size_t(r)].first == kNone) continue;
    ++plan.uses[size_t(from[size_t(r)].first)];
    ++plan.uses[size_t(from[size_t(r)].second)];
  }
  for (int64_t row : order) {
    const auto& [a, b] = from[size_t(row)];
    if (a == kNone) {
      if (plan.steps.empty() || int64_t(plan.steps.back().project.size()) == chunk) plan.steps.emplace_back();
      plan.steps.back().project.push_back(row);
    } else {
      plan.steps.back().derive.push_back({row, a, b});  // its operands come earlier in `order`
    }
  }

  // How many projections outlive their step (they still have readers in a later step).
  std::vector<int32_t> left = plan.uses;
  std::vector<uint8_t> held(size_t(m), 0);
  int64_t nHeld = 0;
  for (const LensStep& step : plan.steps) {
    for (const RowSum& d : step.derive) {
      for (int64_t x : {d.a, d.b}) {
        if (--left[size_t(x)] == 0 && held[size_t(x)]) {
          held[size_t(x)] = 0;
          --nHeld;
        }
      }
    }
    auto keep = [&](int64_t r) {
      if (left[size_t(r)] > 0 && !held[size_t(r)]) {
        held[size_t(r)] = 1;
        ++nHeld;
      }
    };
    for (int64_t r : step.project) keep(r);
    for (const RowSum& d : step.derive) keep(d.row);
    plan.maxHeld = std::max(plan.maxHeld, nHeld);
  }
  return plan;
}

}  // namespace layerlens
