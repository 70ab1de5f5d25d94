#include "capture.hpp"

#include <stdexcept>
#include <string_view>

#include "ggml-backend.h"

namespace layerlens {

Capture::Capture(const std::vector<HookRef>& hooks, std::vector<int32_t> positions)
    : positions_(std::move(positions)), tensors_(hooks.size()), seen_(hooks.size(), false) {
  for (size_t i = 0; i < hooks.size(); ++i) {
    tensors_[i].hook = hooks[i];
    index_.emplace(hookName(hooks[i]), i);  // the name buildForwardGraph gives the hook's node
  }
}

bool Capture::evalCallback(ggml_tensor* t, bool ask, void* self) {
  auto* capture = static_cast<Capture*>(self);
  auto it = capture->index_.find(std::string_view(ggml_get_name(t)));
  if (ask) return it != capture->index_.end();
  if (it == capture->index_.end() || capture->seen_[it->second]) return true;
  // No exception may cross ggml's C frames: remember the failure and stop the computation.
  try {
    capture->copyRows(t, capture->tensors_[it->second]);
    capture->seen_[it->second] = true;
    return true;
  } catch (const std::exception& e) {
    capture->error_ = e.what();
    return false;
  }
}

void Capture::copyRows(const ggml_tensor* t, CapturedTensor& out) {
  // Hook nodes are fresh (non-view) f32 tensors with ne0 = row width and ne1 = token (query) position;
  // attention patterns add ne2 = head. The data lives in backend memory (maybe a GPU): fetch row by row.
  if (t->type != GGML_TYPE_F32 || !ggml_is_contiguous(t)) {
    throw std::logic_error(std::string("hook tensor ") + ggml_get_name(t) + " is not a contiguous f32 tensor");
  }
  const int64_t width = t->ne[0], heads = t->ne[2];
  const size_t P = positions_.size();
  const bool contiguousAll = heads == 1 && P == size_t(t->ne[1]);
  out.shape = heads == 1 ? std::vector<int64_t>{int64_t(P), width} : std::vector<int64_t>{int64_t(P), heads, width};
  out.data.resize(P * size_t(heads) * size_t(width));
  if (contiguousAll) {
    ggml_backend_tensor_get(t, out.data.data(), 0, out.data.size() * sizeof(float));
    return;
  }
  float* dst = out.data.data();
  for (size_t i = 0; i < P; ++i) {
    for (int64_t h = 0; h < heads; ++h) {
      const size_t offset = size_t(positions_[i]) * t->nb[1] + size_t(h) * t->nb[2];
      ggml_backend_tensor_get(t, dst, offset, size_t(width) * sizeof(float));
      dst += width;
    }
  }
}

std::vector<CapturedTensor> Capture::take() {
  if (!error_.empty()) throw std::runtime_error("capture failed: " + error_);
  for (size_t i = 0; i < tensors_.size(); ++i) {
    if (!seen_[i]) throw std::runtime_error("hook " + hookName(tensors_[i].hook) + " was not computed by the graph");
  }
  return std::move(tensors_);
}

}  // namespace layerlens
