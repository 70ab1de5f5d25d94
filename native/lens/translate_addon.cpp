#include "translate_addon.hpp"

#include <memory>
#include <string>
#include <vector>

#include "../napi_helpers.hpp"
#include "translate.hpp"

namespace layerlens {
namespace {

// Float32Arrays of a field: each is borrowed (read now, on the main thread, while the call holds them).
std::vector<FloatSpan> spansOf(const Options& o, const char* key) {
  Napi::Value v = o.required(key);
  const std::string what = o.field(key) + " must be an array of Float32Array";
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), what);
  Napi::Array a = v.As<Napi::Array>();
  std::vector<FloatSpan> out;
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value x = a.Get(i);
    if (!x.IsTypedArray() || x.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw Napi::TypeError::New(v.Env(), what);
    Napi::Float32Array f = x.As<Napi::Float32Array>();
    out.push_back({f.Data(), f.ElementLength()});
  }
  return out;
}

class NativeTranslators : public Napi::ObjectWrap<NativeTranslators> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Translators",
                       {InstanceMethod("translate", &NativeTranslators::Translate),
                        InstanceMethod("dispose", &NativeTranslators::Dispose),
                        InstanceAccessor("bytes", &NativeTranslators::Bytes, nullptr)});
  }

  // new Translators({d: number, weights: Float32Array[], biases?: Float32Array[]}): the weights are
  // copied here, synchronously, into native memory (counted as external memory for V8's GC).
  explicit NativeTranslators(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeTranslators>(info) {
    Napi::Env env = info.Env();
    const Options o(info[0], "Translators");
    o.onlyKnown({"d", "weights", "biases"});
    const int32_t d = o.int32("d");
    const std::vector<FloatSpan> weights = spansOf(o, "weights");
    const std::vector<FloatSpan> biases = o.has("biases") ? spansOf(o, "biases") : std::vector<FloatSpan>{};
    try {
      set_ = std::make_shared<Translators>(d, weights, biases);
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
    accounted_ = int64_t(set_->bytes());
    Napi::MemoryManagement::AdjustExternalMemory(env, accounted_);
  }

  ~NativeTranslators() override { release(Env()); }

 private:
  void release(Napi::Env env) {
    if (!set_) return;
    set_.reset();  // a running translate() holds its own reference and frees the weights when it ends
    Napi::MemoryManagement::AdjustExternalMemory(env, -accounted_);
    accounted_ = 0;
  }

  // translate({rows: Float32Array, groups: Int32Array of [translator, rowCount] pairs, threads?: number})
  // -> Promise<Float32Array>: the rows translated, in the order given.
  Napi::Value Translate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!set_) throw Napi::Error::New(env, "these translators have been disposed");
    const Options o(info[0], "translate");
    o.onlyKnown({"rows", "groups", "threads"});
    std::vector<float> rows = o.float32Array("rows");
    const std::vector<int32_t> flat = o.int32Array("groups");
    if (flat.size() % 2 != 0)
      throw Napi::RangeError::New(env, "translate: 'groups' must hold [translator, rowCount] pairs (an even length)");
    std::vector<TranslateGroup> groups;
    for (size_t i = 0; i < flat.size(); i += 2) groups.push_back({flat[i], flat[i + 1]});
    const int threads = o.int32("threads", 0);
    return queue<std::vector<float>>(
        env,
        [set = set_, rows = std::move(rows), groups = std::move(groups), threads]() {
          return set->translate(rows, groups, threads);
        },
        [](Napi::Env env, std::vector<float>& out) -> Napi::Value {
          return toFloat32Array(env, out.data(), out.size());
        });
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    release(info.Env());
    return info.Env().Undefined();
  }

  Napi::Value Bytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), double(set_ ? set_->bytes() : 0));
  }

  std::shared_ptr<Translators> set_;
  int64_t accounted_ = 0;
};

}  // namespace

Napi::Function defineTranslatorsClass(Napi::Env env) { return NativeTranslators::Define(env); }

}  // namespace layerlens
