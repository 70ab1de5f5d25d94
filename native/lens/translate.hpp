// The tuned lens's translation, out = h + A·h + b, for many rows and several translators in one ggml
// graph on the CPU backend. It needs no model weights, so both engines' decodeLayers use it.
// The translators are copied once into a ggml buffer when the set is made (a JS array may be detached
// or changed by the caller while a worker reads it, so nothing here points into JS memory).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "../ggml_handles.hpp"

namespace layerlens {

// A borrowed run of floats (the caller keeps it alive for the call).
struct FloatSpan {
  const float* data = nullptr;
  size_t size = 0;
};

// `rows` consecutive rows of the input all go through translator `translator`.
struct TranslateGroup {
  int32_t translator = 0;
  int64_t rows = 0;
};

class Translators {
 public:
  // weights: one row-major [d_out = d, d_in = d] matrix per translator (PyTorch's Linear layout);
  // biases: empty (no bias) or one d-vector per translator. Every size is checked here.
  Translators(int32_t d, const std::vector<FloatSpan>& weights, const std::vector<FloatSpan>& biases);
  Translators(const Translators&) = delete;
  Translators& operator=(const Translators&) = delete;

  // rows: [sum of groups' rows, d] row-major, in group order; returns the translated rows in the same
  // order. threads <= 0 uses the hardware concurrency (each thread takes an equal range of rows).
  // Safe to call from several threads at once.
  std::vector<float> translate(const std::vector<float>& rows, const std::vector<TranslateGroup>& groups,
                               int threads) const;

  int32_t width() const { return d_; }
  int32_t count() const { return n_; }
  bool hasBias() const { return bias_; }
  size_t bytes() const;  // native memory held for the weights

 private:
  // `rows` consecutive input rows from `first` on, all through one translator.
  struct Slice {
    int32_t translator;
    int64_t first, rows;
  };
  // Translates the slices (consecutive, covering one range of rows) in one graph on this thread,
  // into the same rows of `out`.
  void translatePart(const std::vector<float>& rows, const std::vector<Slice>& slices, std::vector<float>& out) const;

  int32_t d_ = 0, n_ = 0;
  bool bias_ = false;
  ContextPtr ctx_;                  // describes the weight tensor
  BufferPtr buffer_;                // holds it
  ggml_tensor* weights_ = nullptr;  // [A + I | b | 0…] per translator: [paddedWidth(d), d, n] (ggml order)
};

}  // namespace layerlens
