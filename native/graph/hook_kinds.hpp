// The one definition of layerlens' hook points: which kinds exist, in which order results list them,
// how wide their rows are, and what may be done with them. The addon exports this table
// (`addon.hookKinds`) and lib/hooks.ts is a view of it, so the two sides cannot drift apart.
//
// Inside the engine a hook travels as {kind, layer} (HookRef), as llama.cpp passes cb(cur, name, il):
// names are parsed once where they enter (the addon) and formatted only where a string is needed
// (ggml node names, results).
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "../io/hparams.hpp"

namespace layerlens {

enum class HookKind : uint8_t { Embed, AttnOut, ResidMid, MlpPost, MlpOut, ResidPost, AttnPattern, AttnHeadOut };

struct HookKindInfo {
  HookKind kind;
  const char* name;  // `embed`; block kinds appear as `blocks.L.<name>`
  // Width of one captured row = embdFactor·n_embd + tokensFactor·n_tokens, where n_tokens is the
  // number of keys attended over. A per-head kind has n_head such rows per position.
  int32_t embdFactor;
  int32_t tokensFactor;
  bool perHead;       // one row per (position, head)
  bool inBlock;       // false only for embed, which has no layer
  bool lensable;      // n_embd wide: goes through ln_f and the unembedding
  bool intervenable;  // an intervention may edit it inside the graph
  bool inAll;         // selected by the 'all' preset (attn_head_out costs a matmul per block: only on request)
  bool inDefault;     // selected by the 'default' preset (the notebook's view of the residual stream)
};

// In the order results list the kinds: embed, then per block in the order the block computes them
// (attn_pattern and attn_head_out, computed before attn_out, come last so the d-wide kinds stay together).
inline constexpr std::array<HookKindInfo, 8> kHookKinds{{
    //  kind                     name            embd tok  perHead inBlock lens   interv inAll  inDefault
    {HookKind::Embed, "embed", 1, 0, false, false, true, true, true, true},
    {HookKind::AttnOut, "attn_out", 1, 0, false, true, true, true, true, false},
    {HookKind::ResidMid, "resid_mid", 1, 0, false, true, true, true, true, true},
    {HookKind::MlpPost, "mlp_post", 4, 0, false, true, false, true, true, false},
    {HookKind::MlpOut, "mlp_out", 1, 0, false, true, true, true, true, false},
    {HookKind::ResidPost, "resid_post", 1, 0, false, true, true, true, true, true},
    {HookKind::AttnPattern, "attn_pattern", 0, 1, true, true, false, false, true, false},
    {HookKind::AttnHeadOut, "attn_head_out", 1, 0, true, true, false, false, false, false},
}};

constexpr bool hookTableIndexedByKind() {
  for (size_t i = 0; i < kHookKinds.size(); ++i) {
    if (size_t(kHookKinds[i].kind) != i) return false;
  }
  return true;
}
static_assert(hookTableIndexedByKind(), "kHookKinds must list the kinds in enum order");

constexpr const HookKindInfo& hookKindInfo(HookKind kind) { return kHookKinds[size_t(kind)]; }

// A hook point: a kind and its block (-1 for embed).
struct HookRef {
  HookKind kind = HookKind::Embed;
  int32_t layer = -1;

  bool operator==(const HookRef& o) const { return kind == o.kind && layer == o.layer; }
  bool operator!=(const HookRef& o) const { return !(*this == o); }
};

// Values in one captured row (for per-head kinds: one head's row).
inline int64_t hookRowWidth(HookKind kind, const HParams& hp, int64_t nTokens) {
  const HookKindInfo& k = hookKindInfo(kind);
  return int64_t(k.embdFactor) * hp.nEmbd + int64_t(k.tokensFactor) * nTokens;
}

// Values captured per token position: the row width, times n_head for per-head kinds.
inline int64_t hookPositionWidth(HookKind kind, const HParams& hp, int64_t nTokens) {
  return hookRowWidth(kind, hp, nTokens) * (hookKindInfo(kind).perHead ? hp.nHead : 1);
}

// `embed` or `blocks.L.kind`.
inline std::string hookName(const HookRef& ref) {
  const HookKindInfo& k = hookKindInfo(ref.kind);
  if (!k.inBlock) return k.name;
  return "blocks." + std::to_string(ref.layer) + "." + k.name;
}

// Parses a canonical hook name (`embed` or `blocks.L.kind`, L < nLayer without leading zeros).
// Throws std::invalid_argument naming what is wrong.
inline HookRef parseHookName(std::string_view name, int32_t nLayer) {
  auto fail = [&](const std::string& why) -> HookRef {
    throw std::invalid_argument("hook '" + std::string(name) + "': " + why);
  };
  if (name == hookKindInfo(HookKind::Embed).name) return {HookKind::Embed, -1};
  constexpr std::string_view prefix = "blocks.";
  if (name.substr(0, prefix.size()) != prefix) return fail("expected 'embed' or 'blocks.L.KIND'");
  const std::string_view rest = name.substr(prefix.size());
  const size_t dot = rest.find('.');
  const std::string_view digits = rest.substr(0, dot);
  if (dot == std::string_view::npos || digits.empty() || digits.size() > 9)
    return fail("expected 'embed' or 'blocks.L.KIND'");
  if (digits.size() > 1 && digits[0] == '0') return fail("block index has a leading zero");
  int32_t layer = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return fail("the block index is not a non-negative integer");
    layer = layer * 10 + (c - '0');
  }
  if (layer >= nLayer)
    return fail("block " + std::to_string(layer) + " is out of range, the model has blocks 0.." +
                std::to_string(nLayer - 1));
  const std::string_view kindName = rest.substr(dot + 1);
  for (const HookKindInfo& k : kHookKinds) {
    if (k.inBlock && kindName == k.name) return {k.kind, layer};
  }
  return fail("unknown hook kind '" + std::string(kindName) + "'");
}

}  // namespace layerlens
