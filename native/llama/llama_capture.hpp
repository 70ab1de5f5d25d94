// What one llama.cpp forward copies out of its graph and edits inside it, through llama.cpp's eval
// callback (ggml_backend_sched_eval_callback). The callback runs on the compute thread: no N-API here,
// and errors are recorded (the callback then stops the graph) and rethrown by the caller.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../run_types.hpp"
#include "ggml.h"
#include "llama_hook_map.hpp"

namespace layerlens {

struct LlamaCaptureSetup {
  const ArchHooks* arch = nullptr;
  int32_t nTokens = 0;
  int32_t nHead = 0;
  std::vector<int32_t> outputPositions;  // positions whose rows the last block keeps (ascending)
  std::vector<HookRef> hooks;            // to capture
  std::vector<int32_t> positions;        // rows to capture, ascending unique
  const std::vector<InterventionSpec>* interventions = nullptr;  // already validated against the hook map
};

class LlamaCapture {
 public:
  explicit LlamaCapture(LlamaCaptureSetup setup);

  static bool evalCallback(ggml_tensor* t, bool ask, void* self);

  // The requested hooks in request order. Throws if the graph did not produce a tap.
  std::vector<CapturedTensor> take();
  const std::string& error() const { return error_; }

 private:
  struct TapStore {
    TensorTap tap;
    bool allPositions = false;  // keep every position's row (an intervention's subtrahend needs them)
    bool pattern = false;       // kq_soft_max: per position, n_head rows of n_tokens keys
    int64_t width = 0;          // floats per stored position
    std::vector<int32_t> slot;  // per position: index into data rows, or -1
    std::vector<float> data;
    bool seen = false;
    std::vector<size_t> edits;  // interventions applied when this tap is computed
  };
  int32_t needTap(const TensorTap& tap, bool allPositions, bool pattern);
  void addOperand(const Operand& op, int32_t layer, bool allPositions);
  // Copies the tap's wanted rows into its store: from `host` (the whole tensor, contiguous, already in
  // memory) when given, else from the backend.
  void copyTap(const ggml_tensor* t, TapStore& s, const float* host);
  bool namesATap(const char* node) const;
  void addInterventionTaps();
  void applyEdits(ggml_tensor* t, TapStore& s);
  bool onData(ggml_tensor* t);
  const float* row(const TapStore& s, int32_t pos) const;
  // Value of an operand at a position (a stored tap row, or a hook computed from stored rows).
  std::vector<float> value(const Operand& op, int32_t layer, int32_t pos, int64_t width);
  std::vector<float> hookValue(HookKind kind, int32_t layer, int32_t pos, int64_t width);
  // Row index of a position in a tensor of `rows` rows (every position, or only the output rows).
  int64_t rowOf(int64_t rows, int32_t pos) const;

  LlamaCaptureSetup s_;
  std::vector<TapStore> taps_;
  std::map<TensorTap, int32_t> tapIndex_;
  std::vector<std::string> tapNames_;  // distinct base names of taps_: other nodes are answered without allocating
  std::map<std::pair<std::string, int32_t>, int32_t> occurrences_;  // (name, layer) → nodes seen so far
  std::unordered_map<const ggml_tensor*, int32_t> pending_;         // asked-for node → tap
  std::vector<float> scratch_;
  std::string error_;
};

}  // namespace layerlens
