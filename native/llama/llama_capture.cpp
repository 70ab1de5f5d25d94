#include "llama_capture.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string_view>

#include "ggml-backend.h"

namespace layerlens {
namespace {

std::string tapName(const TensorTap& t) {
  std::string n = t.layer < 0 ? t.name : t.name + "-" + std::to_string(t.layer);
  if (t.occurrence > 0) n += " (occurrence " + std::to_string(t.occurrence + 1) + ")";
  return n;
}

// "l_out-12" → ("l_out", 12); "embd" → ("embd", -1).
std::pair<std::string, int32_t> splitNodeName(const char* name) {
  const char* dash = std::strrchr(name, '-');
  if (dash && dash[1] != '\0') {
    int64_t layer = 0;
    const char* p = dash + 1;
    for (; *p; ++p) {
      if (*p < '0' || *p > '9' || layer > 1000000) break;
      layer = layer * 10 + (*p - '0');
    }
    if (*p == '\0') return {std::string(name, dash), int32_t(layer)};
  }
  return {std::string(name), -1};
}

}  // namespace

LlamaCapture::LlamaCapture(LlamaCaptureSetup setup) : s_(std::move(setup)) {
  for (const HookRef& h : s_.hooks) {
    const HookSource src = hookSource(*s_.arch, h.kind, h.layer);
    if (src.how == HookSource::How::None) throw std::invalid_argument("hook " + hookName(h) + " is not available");
    if (h.kind == HookKind::AttnPattern) {
      needTap(src.a.tap, false, true);
      continue;
    }
    addOperand(src.a, h.layer, false);
    if (src.how == HookSource::How::Difference) addOperand(src.b, h.layer, false);
  }
  if (s_.interventions) addInterventionTaps();
  for (const TapStore& t : taps_)
    if (std::find(tapNames_.begin(), tapNames_.end(), t.tap.name) == tapNames_.end()) tapNames_.push_back(t.tap.name);
}

void LlamaCapture::addInterventionTaps() {
  for (size_t i = 0; i < s_.interventions->size(); ++i) {
    const HookRef& h = (*s_.interventions)[i].hook;
    const HookSource src = hookSource(*s_.arch, h.kind, h.layer);
    if (!src.intervenable || src.a.kind != Operand::Kind::Tap)
      throw std::invalid_argument("interventions on " + hookName(h) + " are not supported for this architecture");
    const int32_t idx = needTap(src.a.tap, false, false);
    if (src.how == HookSource::How::Difference) addOperand(src.b, h.layer, true);
    taps_[size_t(idx)].edits.push_back(i);
  }
}

int32_t LlamaCapture::needTap(const TensorTap& tap, bool allPositions, bool pattern) {
  auto it = tapIndex_.find(tap);
  if (it != tapIndex_.end()) {
    taps_[size_t(it->second)].allPositions |= allPositions;
    return it->second;
  }
  TapStore s;
  s.tap = tap;
  s.allPositions = allPositions;
  s.pattern = pattern;
  s.slot.assign(size_t(s_.nTokens), -1);
  taps_.push_back(std::move(s));
  const int32_t idx = int32_t(taps_.size() - 1);
  tapIndex_[tap] = idx;
  return idx;
}

void LlamaCapture::addOperand(const Operand& op, int32_t layer, bool allPositions) {
  switch (op.kind) {
    case Operand::Kind::Tap: needTap(op.tap, allPositions, false); break;
    case Operand::Kind::ResidPre: needTap(residPreTap(*s_.arch, layer), allPositions, false); break;
    case Operand::Kind::Hook: {
      const HookSource src = hookSource(*s_.arch, op.hook, layer);
      if (src.how == HookSource::How::None) throw std::logic_error("hook map: a hook reads an unavailable hook");
      addOperand(src.a, layer, allPositions);
      if (src.how == HookSource::How::Difference) addOperand(src.b, layer, allPositions);
      break;
    }
  }
}

bool LlamaCapture::namesATap(const char* node) const {
  const std::string_view name(node);
  for (const std::string& base : tapNames_) {
    if (name.size() >= base.size() && name.compare(0, base.size(), base) == 0 &&
        (name.size() == base.size() || name[base.size()] == '-'))
      return true;
  }
  return false;
}

bool LlamaCapture::evalCallback(ggml_tensor* t, bool ask, void* self) {
  auto* c = static_cast<LlamaCapture*>(self);
  if (!c) return ask ? false : true;
  if (ask) {
    // Occurrences are counted only for the names a tap uses: every other node costs a few compares.
    if (!c->namesATap(t->name)) return false;
    auto [base, layer] = splitNodeName(t->name);
    int32_t& seen = c->occurrences_[{base, layer}];
    auto it = c->tapIndex_.find(TensorTap{base, layer, seen});
    ++seen;
    if (it == c->tapIndex_.end()) return false;
    c->pending_[t] = it->second;
    return true;
  }
  return c->onData(t);
}

bool LlamaCapture::onData(ggml_tensor* t) {
  auto it = pending_.find(t);
  if (it == pending_.end()) return true;
  TapStore& s = taps_[size_t(it->second)];
  pending_.erase(it);
  try {
    if (t->type != GGML_TYPE_F32 || t->nb[0] != sizeof(float))
      throw std::runtime_error("llama.cpp's tensor " + tapName(s.tap) + " is not a plain f32 tensor (type " +
                               ggml_type_name(t->type) + ")");
    if (!s.edits.empty()) applyEdits(t, s);
    copyTap(t, s, s.edits.empty() ? nullptr : scratch_.data());  // edited: the rows are in scratch_ already
    s.seen = true;
    return true;
  } catch (const std::exception& e) {
    error_ = e.what();
    return false;  // stops the graph: llama_decode returns and the caller throws error_
  }
}

int64_t LlamaCapture::rowOf(int64_t rows, int32_t pos) const {
  if (rows == s_.nTokens) return pos;
  if (rows == int64_t(s_.outputPositions.size())) {
    for (size_t i = 0; i < s_.outputPositions.size(); ++i)
      if (s_.outputPositions[i] == pos) return int64_t(i);
    return -1;
  }
  throw std::runtime_error("llama.cpp produced " + std::to_string(rows) + " rows where " + std::to_string(s_.nTokens) +
                           " tokens were decoded");
}

void LlamaCapture::copyTap(const ggml_tensor* t, TapStore& s, const float* host) {
  std::vector<int32_t> wanted;
  if (s.allPositions) {
    for (int32_t p = 0; p < s_.nTokens; ++p) wanted.push_back(p);
  } else {
    wanted = s_.positions;
  }
  if (s.pattern) {
    // [n_kv, n_tokens, n_head]: query rows of every head; keys are KV cells, which hold the positions
    // 0..n_tokens-1 in order after the cache was cleared.
    if (t->ne[0] < s_.nTokens || t->ne[1] != s_.nTokens || t->ne[2] != s_.nHead || t->ne[3] != 1)
      throw std::runtime_error("attention pattern " + tapName(s.tap) + " has an unexpected shape");
    s.width = int64_t(s_.nHead) * s_.nTokens;
    s.data.assign(wanted.size() * size_t(s.width), 0.0f);
    // With at least half the query rows wanted, one read of the whole pattern (one round trip on an
    // RPC server, at most about twice the bytes); else one read per position and head.
    const bool whole = ggml_is_contiguous(t) && 2 * int64_t(wanted.size()) >= t->ne[1];
    if (whole) {
      scratch_.resize(size_t(ggml_nelements(t)));
      ggml_backend_tensor_get(t, scratch_.data(), 0, ggml_nbytes(t));
    }
    for (size_t i = 0; i < wanted.size(); ++i) {
      const int32_t p = wanted[i];
      for (int32_t h = 0; h < s_.nHead; ++h) {
        float* dst = s.data.data() + i * size_t(s.width) + size_t(h) * size_t(s_.nTokens);
        const size_t offset = size_t(p) * t->nb[1] + size_t(h) * t->nb[2];
        if (whole) {
          const float* src = scratch_.data() + offset / sizeof(float);
          std::copy(src, src + s_.nTokens, dst);
        } else {
          ggml_backend_tensor_get(t, dst, offset, size_t(s_.nTokens) * sizeof(float));
        }
      }
      s.slot[size_t(p)] = int32_t(i);
    }
    return;
  }
  if (t->ne[2] != 1 || t->ne[3] != 1)
    throw std::runtime_error("llama.cpp's tensor " + tapName(s.tap) + " is not a matrix");
  s.width = t->ne[0];
  s.data.assign(wanted.size() * size_t(s.width), 0.0f);
  const size_t rowBytes = size_t(s.width) * sizeof(float);
  // Rows that follow each other in the tensor and in the store are read in one piece: on an RPC
  // server every read is a round trip, so every position of a hook costs one, not one per row.
  const bool packedRows = t->nb[1] == rowBytes;
  int32_t stored = 0;
  int64_t runRow = -1, runLen = 0;
  int32_t runStored = 0;
  const auto flush = [&] {
    float* dst = s.data.data() + size_t(runStored) * size_t(s.width);
    if (runLen > 0 && host)
      std::copy(host + size_t(runRow) * size_t(s.width), host + size_t(runRow + runLen) * size_t(s.width), dst);
    else if (runLen > 0) ggml_backend_tensor_get(t, dst, size_t(runRow) * t->nb[1], size_t(runLen) * rowBytes);
    runLen = 0;
  };
  for (int32_t p : wanted) {
    const int64_t r = rowOf(t->ne[1], p);
    if (r < 0) continue;  // a row the last block did not compute
    if (!(packedRows && runLen > 0 && r == runRow + runLen)) {
      flush();
      runRow = r;
      runStored = stored;
    }
    ++runLen;
    s.slot[size_t(p)] = stored++;
  }
  flush();
  s.data.resize(size_t(stored) * size_t(s.width));
}

const float* LlamaCapture::row(const TapStore& s, int32_t pos) const {
  if (!s.seen) throw std::runtime_error("llama.cpp's graph never computed " + tapName(s.tap));
  const int32_t slot = s.slot[size_t(pos)];
  if (slot < 0)
    throw std::runtime_error("position " + std::to_string(pos) + " of " + tapName(s.tap) + " was not computed");
  return s.data.data() + size_t(slot) * size_t(s.width);
}

void LlamaCapture::applyEdits(ggml_tensor* t, TapStore& s) {
  if (!ggml_is_contiguous(t) || t->ne[2] != 1 || t->ne[3] != 1)
    throw std::runtime_error("cannot edit llama.cpp's tensor " + tapName(s.tap) + ": not a contiguous matrix");
  const int64_t width = t->ne[0], rows = t->ne[1];
  scratch_.resize(size_t(width * rows));
  ggml_backend_tensor_get(t, scratch_.data(), 0, ggml_nbytes(t));
  for (size_t e : s.edits) {
    const InterventionSpec& iv = (*s_.interventions)[e];
    const HookSource src = hookSource(*s_.arch, iv.hook.kind, iv.hook.layer);
    const bool diff = src.how == HookSource::How::Difference;
    const TapStore* b = nullptr;
    if (diff) {
      const TensorTap bt = src.b.kind == Operand::Kind::ResidPre ? residPreTap(*s_.arch, iv.hook.layer) : src.b.tap;
      b = &taps_[size_t(tapIndex_.at(bt))];
    }
    for (int64_t r = 0; r < rows; ++r) {
      const int32_t p = rows == s_.nTokens ? int32_t(r) : s_.outputPositions[size_t(r)];
      float* x = scratch_.data() + r * width;
      const float* base = diff ? row(*b, p) : nullptr;
      const float* mul = iv.mul.empty() ? nullptr : iv.mul.data() + size_t(p) * size_t(width);
      const float* add = iv.add.empty() ? nullptr : iv.add.data() + size_t(p) * size_t(width);
      for (int64_t j = 0; j < width; ++j) {
        float v = diff ? x[j] - base[j] : x[j];
        if (mul) v *= mul[j];
        if (add) v += add[j];
        x[j] = diff ? base[j] + v : v;
      }
    }
  }
  ggml_backend_tensor_set(t, scratch_.data(), 0, ggml_nbytes(t));
}

std::vector<float> LlamaCapture::value(const Operand& op, int32_t layer, int32_t pos, int64_t width) {
  const TapStore* s = nullptr;
  switch (op.kind) {
    case Operand::Kind::Hook: return hookValue(op.hook, layer, pos, width);
    case Operand::Kind::ResidPre: s = &taps_[size_t(tapIndex_.at(residPreTap(*s_.arch, layer)))]; break;
    case Operand::Kind::Tap: s = &taps_[size_t(tapIndex_.at(op.tap))]; break;
  }
  const float* r = row(*s, pos);
  if (width >= 0 && s->width != width)
    throw std::runtime_error("llama.cpp's tensor " + tapName(s->tap) + " has rows of " + std::to_string(s->width) +
                             " values, expected " + std::to_string(width));
  return std::vector<float>(r, r + s->width);
}

std::vector<float> LlamaCapture::hookValue(HookKind kind, int32_t layer, int32_t pos, int64_t width) {
  const HookSource src = hookSource(*s_.arch, kind, layer);
  std::vector<float> a = value(src.a, layer, pos, width);
  if (src.how == HookSource::How::Difference) {
    const std::vector<float> b = value(src.b, layer, pos, int64_t(a.size()));
    for (size_t j = 0; j < a.size(); ++j) a[j] -= b[j];
  }
  return a;
}

std::vector<CapturedTensor> LlamaCapture::take() {
  std::vector<CapturedTensor> out;
  const size_t P = s_.positions.size();
  for (const HookRef& h : s_.hooks) {
    CapturedTensor c;
    c.hook = h;
    if (h.kind == HookKind::AttnPattern) {
      const TapStore& s = taps_[size_t(tapIndex_.at(hookSource(*s_.arch, h.kind, h.layer).a.tap))];
      c.shape = {int64_t(P), s_.nHead, s_.nTokens};
      c.data.reserve(P * size_t(s.width));
      for (int32_t p : s_.positions) {
        const float* r = row(s, p);
        c.data.insert(c.data.end(), r, r + s.width);
      }
    } else {
      int64_t width = -1;
      for (int32_t p : s_.positions) {
        std::vector<float> v = hookValue(h.kind, h.layer, p, width);
        width = int64_t(v.size());
        c.data.insert(c.data.end(), v.begin(), v.end());
      }
      c.shape = {int64_t(P), std::max<int64_t>(width, 0)};
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace layerlens
