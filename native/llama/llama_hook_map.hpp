// Where each layerlens hook comes from in llama.cpp's graph, per architecture.
//
// llama.cpp tags activations with cb(cur, "name", il); the eval callback sees them as "name-il" (or
// "name" when il < 0). A hook is either such a tensor ("tap": a name, a block, and which occurrence of
// that name within the block, since names repeat: llama's second "ffn_out" is the residual sum), or the
// difference of two values (attn_out = resid_mid − resid_pre where the graph names no attention output).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "../graph/hook_kinds.hpp"

namespace layerlens {

// One tensor of llama.cpp's graph: "name-layer" (layer -1: "name"), the occurrence-th node so named.
struct TensorTap {
  std::string name;
  int32_t layer = -1;
  int32_t occurrence = 0;

  bool operator<(const TensorTap& o) const {
    if (name != o.name) return name < o.name;
    if (layer != o.layer) return layer < o.layer;
    return occurrence < o.occurrence;
  }
  bool operator==(const TensorTap& o) const { return name == o.name && layer == o.layer && occurrence == o.occurrence; }
};

// A value the hook is computed from: a tap, the block's input residual (resid_pre: the embedding for
// block 0, else the previous block's resid_post), or another hook of the same block.
struct Operand {
  enum class Kind : uint8_t { Tap, ResidPre, Hook } kind = Kind::Tap;
  TensorTap tap;                        // Kind::Tap
  HookKind hook = HookKind::ResidPost;  // Kind::Hook
};

struct HookSource {
  enum class How : uint8_t { None, Direct, Difference } how = How::None;
  Operand a;  // Direct: the value; Difference: a − b
  Operand b;
  // An intervention may edit it inside the forward: Direct taps that later nodes read, and differences
  // a − b whose `a` is such a tap (a is rewritten as b + f(a − b)).
  bool intervenable = false;
};

// The final norm before the output matrix.
enum class FinalNorm : uint8_t { Rms, Layer };

struct ArchHooks {
  std::string arch;
  bool verified = false;  // the mapping was checked by value for this architecture (else: embed + resid_post only)
  FinalNorm finalNorm = FinalNorm::Rms;
  std::string embedTap;       // the embedding as the first block reads it
  std::string mlpActivation;  // the FFN activation entering the down projection (mlp_post)
  bool parallelResidual = false;
};

ArchHooks archHooks(const std::string& arch, bool parallelResidual);

// Where `kind` of block `layer` comes from (embed: layer -1).
HookSource hookSource(const ArchHooks& a, HookKind kind, int32_t layer);

// The kinds this architecture offers, in registry order.
std::vector<HookKind> availableHookKinds(const ArchHooks& a);

// The tap that a resid_pre operand of `layer` reads.
TensorTap residPreTap(const ArchHooks& a, int32_t layer);

}  // namespace layerlens
