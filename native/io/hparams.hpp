// GPT-2 hyperparameters as read from config.json (parsed and validated in lib/model/config.ts).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace layerlens {

struct HParams {
  int32_t nLayer = 0;
  int32_t nEmbd = 0;
  int32_t nHead = 0;
  int32_t nVocab = 0;
  int32_t nCtx = 0;
  float eps = 1e-5f;

  int32_t headDim() const { return nEmbd / nHead; }

  void validate() const {
    auto check = [](bool ok, const std::string& what) {
      if (!ok) throw std::invalid_argument("invalid model config: " + what);
    };
    check(nLayer >= 1 && nLayer <= 1024, "n_layer must be in 1..1024, got " + std::to_string(nLayer));
    check(nEmbd >= 1 && nEmbd <= 65536, "n_embd must be in 1..65536, got " + std::to_string(nEmbd));
    check(nHead >= 1 && nHead <= nEmbd, "n_head must be in 1..n_embd, got " + std::to_string(nHead));
    check(nEmbd % nHead == 0,
          "n_embd (" + std::to_string(nEmbd) + ") must be divisible by n_head (" + std::to_string(nHead) + ")");
    check(nVocab >= 1 && nVocab <= 1 << 24, "vocab_size must be in 1..16777216, got " + std::to_string(nVocab));
    check(nCtx >= 1 && nCtx <= 1 << 20, "n_positions must be in 1..1048576, got " + std::to_string(nCtx));
    check(eps > 0.0f && eps < 1.0f, "layer_norm_epsilon must be in (0, 1)");
  }
};

}  // namespace layerlens
