// Copies the requested rows of named graph nodes while ggml computes them
// (ggml_backend_sched eval callback). Runs on the compute thread: no N-API here.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "../run_types.hpp"
#include "ggml.h"
#include "hook_kinds.hpp"

namespace layerlens {

class Capture {
 public:
  // positions: token positions (query rows) to copy, ascending and unique, each < nTokens.
  Capture(const std::vector<HookRef>& hooks, std::vector<int32_t> positions);

  // The ggml_backend_sched_eval_callback.
  static bool evalCallback(ggml_tensor* t, bool ask, void* self);

  // Captured tensors in the order of the requested hooks. Throws if a hook was never computed.
  std::vector<CapturedTensor> take();

 private:
  void copyRows(const ggml_tensor* t, CapturedTensor& out);

  std::vector<int32_t> positions_;
  std::vector<CapturedTensor> tensors_;
  std::vector<bool> seen_;
  // Node name (formatHookName) → index. Looked up with the node's C string for every node the
  // scheduler runs: a transparent comparator finds it without building a std::string each time.
  std::map<std::string, size_t, std::less<>> index_;
  std::string error_;
};

}  // namespace layerlens
