#include "llama_hook_map.hpp"

namespace layerlens {
namespace {

Operand tap(const std::string& name, int32_t layer, int32_t occurrence = 0) {
  Operand o;
  o.kind = Operand::Kind::Tap;
  o.tap = {name, layer, occurrence};
  return o;
}

Operand residPre() {
  Operand o;
  o.kind = Operand::Kind::ResidPre;
  return o;
}

Operand hookOperand(HookKind kind) {
  Operand o;
  o.kind = Operand::Kind::Hook;
  o.hook = kind;
  return o;
}

HookSource direct(Operand a, bool intervenable = true) {
  HookSource s;
  s.how = HookSource::How::Direct;
  s.a = std::move(a);
  s.intervenable = intervenable;
  return s;
}

HookSource difference(Operand a, Operand b, bool intervenable) {
  HookSource s;
  s.how = HookSource::How::Difference;
  s.a = std::move(a);
  s.b = std::move(b);
  s.intervenable = intervenable;
  return s;
}

bool isOneOf(const std::string& s, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (s == n) return true;
  return false;
}

}  // namespace

ArchHooks archHooks(const std::string& arch, bool parallelResidual) {
  ArchHooks a;
  a.arch = arch;
  a.embedTap = "embd";
  a.mlpActivation = "ffn_swiglu";
  if (isOneOf(arch, {"llama", "qwen2", "qwen3", "olmo2", "phi3"})) {
    a.verified = true;
  } else if (isOneOf(arch, {"gemma2", "gemma3"})) {
    a.verified = true;
    a.embedTap = "inp_scaled";  // "embd" is before the ×√d scale
    a.mlpActivation = "ffn_geglu";
  } else if (arch == "gptneox") {
    a.verified = true;
    a.finalNorm = FinalNorm::Layer;
    a.mlpActivation = "ffn_gelu";
    a.parallelResidual = parallelResidual;
  } else if (arch == "gpt2") {
    a.verified = true;
    a.finalNorm = FinalNorm::Layer;
    a.embedTap = "inpL";  // token + position embeddings
    a.mlpActivation = "ffn_gelu";
  }
  return a;
}

TensorTap residPreTap(const ArchHooks& a, int32_t layer) {
  return layer == 0 ? TensorTap{a.embedTap, -1, 0} : TensorTap{"l_out", layer - 1, 0};
}

HookSource hookSource(const ArchHooks& a, HookKind kind, int32_t L) {
  const std::string& arch = a.arch;
  if (kind == HookKind::Embed) return direct(tap(a.embedTap, -1));
  if (kind == HookKind::ResidPost) return direct(tap("l_out", L));
  if (!a.verified) return {};
  const bool gemma = isOneOf(arch, {"gemma2", "gemma3"});
  switch (kind) {
    case HookKind::AttnOut:
      if (arch == "llama") return direct(tap("attn_out", L));
      if (gemma) return difference(tap("sa_out", L), residPre(), true);
      if (arch == "phi3") return difference(hookOperand(HookKind::ResidMid), residPre(), false);
      if (a.parallelResidual) return difference(tap("l_out", L), tap("ffn_out", L, 1), true);
      return difference(tap("ffn_inp", L), residPre(), true);
    case HookKind::ResidMid:
      if (gemma) return direct(tap("sa_out", L));
      if (arch == "phi3") return difference(tap("l_out", L), tap("ffn_out", L, 0), false);
      if (a.parallelResidual) return {};
      return direct(tap("ffn_inp", L));
    case HookKind::MlpPost: return direct(tap(a.mlpActivation, L));
    case HookKind::MlpOut:
      // gemma and olmo2 add a post-FFN norm's output (tagged without its block) to the residual.
      if (gemma) return difference(tap("l_out", L), tap("sa_out", L), true);
      if (arch == "olmo2") return difference(tap("l_out", L), tap("ffn_inp", L), true);
      return direct(tap("ffn_out", L, 0));
    case HookKind::AttnPattern: return direct(tap("kq_soft_max", L), false);
    default: return {};
  }
}

std::vector<HookKind> availableHookKinds(const ArchHooks& a) {
  std::vector<HookKind> out;
  for (const HookKindInfo& k : kHookKinds) {
    if (hookSource(a, k.kind, k.inBlock ? 0 : -1).how != HookSource::How::None) out.push_back(k.kind);
  }
  return out;
}

}  // namespace layerlens
