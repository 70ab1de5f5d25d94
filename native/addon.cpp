// N-API surface of layerlens: loadModel() and the NativeModel class. Every heavy call runs in an
// AsyncWorker on libuv's pool and resolves a Promise; results are copied into fresh TypedArrays in
// OnOK (no external buffers, which Electron's sandbox forbids). See lib/model/native.ts for the JS types.
#include <napi.h>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine.hpp"
#include "io/gguf_model.hpp"

namespace layerlens {
namespace {

// ---- argument helpers: turn bad JS input into TypeErrors before anything native runs ----

int32_t intProp(const Napi::Object& o, const char* key, int32_t fallback, bool required = false) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    if (required) throw Napi::TypeError::New(o.Env(), std::string("missing numeric option '") + key + "'");
    return fallback;
  }
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("option '") + key + "' must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != double(int32_t(d))) throw Napi::TypeError::New(o.Env(), std::string("option '") + key + "' must be a 32-bit integer");
  return int32_t(d);
}

bool isInt(const Napi::Value& v) {
  if (!v.IsNumber()) return false;
  const double d = v.As<Napi::Number>().DoubleValue();
  return d == double(int32_t(d));
}

std::vector<int32_t> int32Vector(const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an Int32Array");
  }
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
}

std::vector<float> float32Vector(const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a Float32Array");
  }
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
}

// [{hook: string, mul?: Float32Array, add?: Float32Array}] (sizes are checked by the engine).
std::vector<InterventionSpec> interventionsFrom(const Napi::Value& v) {
  std::vector<InterventionSpec> out;
  if (v.IsUndefined() || v.IsNull()) return out;
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), "interventions must be an array");
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    if (!e.IsObject()) throw Napi::TypeError::New(v.Env(), "each intervention must be an object");
    Napi::Object o = e.As<Napi::Object>();
    if (!o.Get("hook").IsString()) throw Napi::TypeError::New(v.Env(), "intervention.hook must be a string");
    InterventionSpec spec;
    spec.hook = o.Get("hook").As<Napi::String>().Utf8Value();
    if (!o.Get("mul").IsUndefined()) spec.mul = float32Vector(o.Get("mul"), "intervention.mul");
    if (!o.Get("add").IsUndefined()) spec.add = float32Vector(o.Get("add"), "intervention.add");
    out.push_back(std::move(spec));
  }
  return out;
}

Napi::Float32Array toFloat32Array(Napi::Env env, const float* data, size_t n) {
  Napi::Float32Array out = Napi::Float32Array::New(env, n);
  if (n) std::memcpy(out.Data(), data, n * sizeof(float));
  return out;
}

Napi::Float64Array toFloat64Array(Napi::Env env, const std::vector<double>& v) {
  Napi::Float64Array out = Napi::Float64Array::New(env, v.size());
  std::copy(v.begin(), v.end(), out.Data());
  return out;
}

Napi::Int32Array toInt32Array(Napi::Env env, const int32_t* data, size_t n) {
  Napi::Int32Array out = Napi::Int32Array::New(env, n);
  if (n) std::memcpy(out.Data(), data, n * sizeof(int32_t));
  return out;
}

// ---- workers ----

// Runs `work` off the main thread; `done` builds the JS value in OnOK.
template <typename Result>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<Result()>;
  using Done = std::function<Napi::Value(Napi::Env, Result&)>;
  PromiseWorker(Napi::Env env, Work work, Done done)
      : Napi::AsyncWorker(env, "layerlens"), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)), done_(std::move(done)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      result_ = work_();
    } catch (const std::exception& e) {
      SetError(e.what());
    } catch (...) {
      SetError("unknown native error");
    }
  }
  void OnOK() override {
    try {
      deferred_.Resolve(done_(Env(), result_));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
  Result result_{};
};

template <typename Result>
Napi::Promise queue(Napi::Env env, typename PromiseWorker<Result>::Work work, typename PromiseWorker<Result>::Done done) {
  auto* worker = new PromiseWorker<Result>(env, std::move(work), std::move(done));  // owned by libuv until it completes
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
}

// ---- NativeModel ----

class NativeModel : public Napi::ObjectWrap<NativeModel> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeModel",
                       {InstanceMethod("run", &NativeModel::Run), InstanceMethod("lens", &NativeModel::Lens),
                        InstanceMethod("generate", &NativeModel::Generate), InstanceMethod("weight", &NativeModel::Weight),
                        InstanceMethod("info", &NativeModel::Info), InstanceMethod("dispose", &NativeModel::Dispose)});
  }

  explicit NativeModel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeModel>(info) {}

  void attach(std::shared_ptr<Engine> engine) { engine_ = std::move(engine); }

 private:
  // Workers hold their own reference, so dispose() during a call frees the model when it ends.
  std::shared_ptr<Engine> engine(Napi::Env env) {
    if (!engine_) throw Napi::Error::New(env, "this model has been disposed");
    return engine_;
  }

  // run(tokens: Int32Array, hooks: string[], positions: Int32Array | null, interventions?: [{hook, mul?, add?}],
  //     logits?: boolean = true)
  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto eng = engine(env);
    RunRequest req;
    req.tokens = int32Vector(info[0], "tokens");
    if (!info[1].IsArray()) throw Napi::TypeError::New(env, "hooks must be an array of strings");
    Napi::Array hooks = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < hooks.Length(); ++i) {
      Napi::Value h = hooks.Get(i);
      if (!h.IsString()) throw Napi::TypeError::New(env, "hooks must be an array of strings");
      req.hooks.push_back(h.As<Napi::String>().Utf8Value());
    }
    if (!info[2].IsNull() && !info[2].IsUndefined()) req.positions = int32Vector(info[2], "positions");
    req.interventions = interventionsFrom(info[3]);
    if (info.Length() > 4 && !info[4].IsUndefined()) {
      if (!info[4].IsBoolean()) throw Napi::TypeError::New(env, "logits must be a boolean");
      req.logits = info[4].As<Napi::Boolean>().Value();
    }
    return queue<RunResult>(
        env, [eng, req]() { return eng->run(req); },
        [](Napi::Env env, RunResult& r) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          Napi::Array captured = Napi::Array::New(env, r.captured.size());
          for (size_t i = 0; i < r.captured.size(); ++i) {
            const CapturedTensor& t = r.captured[i];
            Napi::Object o = Napi::Object::New(env);
            o.Set("name", t.name);
            Napi::Array shape = Napi::Array::New(env, t.shape.size());
            for (size_t j = 0; j < t.shape.size(); ++j) shape.Set(uint32_t(j), Napi::Number::New(env, double(t.shape[j])));
            o.Set("shape", shape);
            o.Set("data", toFloat32Array(env, t.data.data(), t.data.size()));
            captured.Set(uint32_t(i), o);
          }
          out.Set("captured", captured);
          out.Set("logits", toFloat32Array(env, r.logits.data(), r.logits.size()));
          return out;
        });
  }

  // lens(vectors: Float32Array, count: number, k: number,
  //      options?: {entropy?: boolean, targets?: Int32Array, references?: Int32Array, sums?: Int32Array})
  Napi::Value Lens(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto eng = engine(env);
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throw Napi::TypeError::New(env, "vectors must be a Float32Array");
    }
    if (!isInt(info[1]) || !isInt(info[2])) throw Napi::TypeError::New(env, "count and k must be integers");
    Napi::Float32Array a = info[0].As<Napi::Float32Array>();
    LensRequest req;
    req.vectors.assign(a.Data(), a.Data() + a.ElementLength());
    req.m = info[1].As<Napi::Number>().Int64Value();
    req.k = info[2].As<Napi::Number>().Int32Value();
    if (info[3].IsObject()) {
      Napi::Object o = info[3].As<Napi::Object>();
      req.entropy = o.Get("entropy").ToBoolean().Value();
      if (!o.Get("targets").IsUndefined()) req.targets = int32Vector(o.Get("targets"), "targets");
      if (!o.Get("references").IsUndefined()) req.references = int32Vector(o.Get("references"), "references");
      if (!o.Get("sums").IsUndefined()) {
        const std::vector<int32_t> flat = int32Vector(o.Get("sums"), "sums");
        if (flat.size() % 3 != 0) throw Napi::RangeError::New(env, "sums must hold [row, a, b] triples (a length divisible by 3)");
        for (size_t i = 0; i < flat.size(); i += 3) req.sums.push_back({flat[i], flat[i + 1], flat[i + 2]});
      }
    }
    return queue<LensOutput>(
        env, [eng, req = std::move(req)]() { return eng->lens(req); },
        [](Napi::Env env, LensOutput& r) -> Napi::Value {
          const TopK& t = r.top;
          Napi::Object out = Napi::Object::New(env);
          out.Set("k", Napi::Number::New(env, t.k));
          out.Set("ids", toInt32Array(env, t.ids.data(), t.ids.size()));
          out.Set("logits", toFloat32Array(env, t.logits.data(), t.logits.size()));
          out.Set("probs", toFloat32Array(env, t.probs.data(), t.probs.size()));
          out.Set("logSumExp", toFloat64Array(env, t.logSumExp));
          const MeasureResults& m = r.measures;
          if (!m.entropy.empty()) {
            out.Set("entropy", toFloat64Array(env, m.entropy));
            out.Set("targetLogit", toFloat32Array(env, m.targetLogit.data(), m.targetLogit.size()));
            out.Set("targetProb", toFloat64Array(env, m.targetProb));
            out.Set("targetRank", toInt32Array(env, m.targetRank.data(), m.targetRank.size()));
            out.Set("kl", toFloat64Array(env, m.kl));
          }
          return out;
        });
  }

  // generate(prompt: Int32Array, maxNewTokens: number, stopToken: number, interventions?: [{hook, mul?, add?}])
  Napi::Value Generate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto eng = engine(env);
    std::vector<int32_t> prompt = int32Vector(info[0], "tokens");
    if (!isInt(info[1]) || !isInt(info[2])) throw Napi::TypeError::New(env, "maxNewTokens and stopToken must be integers");
    const int32_t maxNew = info[1].As<Napi::Number>().Int32Value();
    const int32_t stop = info[2].As<Napi::Number>().Int32Value();
    std::vector<InterventionSpec> interventions = interventionsFrom(info[3]);
    return queue<std::vector<int32_t>>(
        env,
        [eng, prompt = std::move(prompt), maxNew, stop, interventions = std::move(interventions)]() {
          return eng->generate(prompt, maxNew, stop, interventions);
        },
        [](Napi::Env env, std::vector<int32_t>& ids) -> Napi::Value { return toInt32Array(env, ids.data(), ids.size()); });
  }

  // weight(name: 'wte' | 'wpe' | 'ln_f.weight' | 'ln_f.bias') -> Promise<Float32Array>
  Napi::Value Weight(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto eng = engine(env);
    if (!info[0].IsString()) throw Napi::TypeError::New(env, "weight name must be a string");
    std::string name = info[0].As<Napi::String>().Utf8Value();
    return queue<std::vector<float>>(
        env, [eng, name]() { return eng->weight(name); },
        [](Napi::Env env, std::vector<float>& w) -> Napi::Value { return toFloat32Array(env, w.data(), w.size()); });
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto eng = engine(env);
    const HParams& hp = eng->hparams();
    Napi::Object o = Napi::Object::New(env);
    o.Set("n_layer", hp.nLayer);
    o.Set("n_embd", hp.nEmbd);
    o.Set("n_head", hp.nHead);
    o.Set("n_vocab", hp.nVocab);
    o.Set("n_ctx", hp.nCtx);
    o.Set("eps", hp.eps);
    o.Set("matrixType", ggml_type_name(eng->weights().matrixType));
    o.Set("fileDtype", eng->weights().fileDtype);
    o.Set("weightBytes", Napi::Number::New(env, double(eng->weights().bytes)));
    o.Set("device", eng->backends().deviceName);
    o.Set("deviceDescription", eng->backends().description);
    o.Set("notice", eng->backends().notice);
    o.Set("threads", eng->backends().threads);
    o.Set("capture", eng->capturesThroughOutputs() ? "outputs" : "callback");
    return o;
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    engine_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<Engine> engine_;
};

struct AddonData {
  Napi::FunctionReference modelClass;
};

HParams hparamsFrom(const Napi::Object& h) {
  Napi::Env env = h.Env();
  HParams hp;
  hp.nLayer = intProp(h, "n_layer", 0, true);
  hp.nEmbd = intProp(h, "n_embd", 0, true);
  hp.nHead = intProp(h, "n_head", 0, true);
  hp.nVocab = intProp(h, "n_vocab", 0, true);
  hp.nCtx = intProp(h, "n_ctx", 0, true);
  Napi::Value eps = h.Get("eps");
  if (!eps.IsNumber()) throw Napi::TypeError::New(env, "hparams.eps must be a number");
  hp.eps = eps.As<Napi::Number>().FloatValue();
  try {
    hp.validate();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
  return hp;
}

// convertToGguf(src: string, hparams, dst: string, dtype: 'f32'|'f16'|'q8_0', name: string, threads: number,
//               vocab?: {tokens: string[], merges: string[], types: Int32Array, eosId: number})
Napi::Value ConvertToGguf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[2].IsString() || !info[3].IsString() || !info[4].IsString()) {
    throw Napi::TypeError::New(env, "convertToGguf(src, hparams, dst, dtype, name, threads)");
  }
  if (!info[1].IsObject()) throw Napi::TypeError::New(env, "hparams must be an object");
  const HParams hp = hparamsFrom(info[1].As<Napi::Object>());
  const std::string src = info[0].As<Napi::String>().Utf8Value(), dst = info[2].As<Napi::String>().Utf8Value();
  const std::string dtype = info[3].As<Napi::String>().Utf8Value(), name = info[4].As<Napi::String>().Utf8Value();
  const int threads = isInt(info[5]) ? info[5].As<Napi::Number>().Int32Value() : 0;
  GgufVocab vocab;
  if (info[6].IsObject()) {
    Napi::Object v = info[6].As<Napi::Object>();
    auto strings = [&](const char* key) {
      std::vector<std::string> out;
      Napi::Value a = v.Get(key);
      if (!a.IsArray()) throw Napi::TypeError::New(env, std::string("vocab.") + key + " must be an array of strings");
      Napi::Array arr = a.As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        Napi::Value x = arr.Get(i);
        if (!x.IsString()) throw Napi::TypeError::New(env, std::string("vocab.") + key + " must be an array of strings");
        out.push_back(x.As<Napi::String>().Utf8Value());
      }
      return out;
    };
    vocab.tokens = strings("tokens");
    vocab.merges = strings("merges");
    vocab.types = int32Vector(v.Get("types"), "vocab.types");
    vocab.eos = isInt(v.Get("eosId")) ? v.Get("eosId").As<Napi::Number>().Int32Value() : -1;
  }
  if (dtype != "f32" && dtype != "f16" && dtype != "q8_0") throw Napi::TypeError::New(env, "type must be f32, f16 or q8_0");
  return queue<bool>(
      env,
      [src, hp, dst, dtype, name, threads, vocab = std::move(vocab)]() {
        Backends cpu = Backends::create("cpu", threads);
        Weights w = loadSafetensorsWeights(src, hp, cpu.primary(), cpu.threads, dtype);
        writeGguf(w, vocab, name, dst);
        return true;
      },
      [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
}

// loadModel(path: string, hparams: {n_layer, n_embd, n_head, n_vocab, n_ctx, eps}, options: {device, threads})
Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "path must be a string");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  // GGUF files carry their hyperparameters; safetensors checkpoints get them from config.json (JS).
  const bool gguf = isGgufPath(path);
  HParams hp;
  if (!gguf) {
    if (!info[1].IsObject()) throw Napi::TypeError::New(env, "hparams must be an object");
    hp = hparamsFrom(info[1].As<Napi::Object>());
  }
  EngineOptions opts;
  if (info[2].IsObject()) {
    Napi::Object o = info[2].As<Napi::Object>();
    opts.threads = intProp(o, "threads", 0);
    Napi::Value dtype = o.Get("dtype");
    if (dtype.IsString()) opts.dtype = dtype.As<Napi::String>().Utf8Value();
    else if (!dtype.IsUndefined()) throw Napi::TypeError::New(env, "dtype must be a string");
    Napi::Value cap = o.Get("capture");
    if (cap.IsString()) {
      const std::string c = cap.As<Napi::String>().Utf8Value();
      if (c == "auto") opts.capture = CaptureMode::Auto;
      else if (c == "callback") opts.capture = CaptureMode::Callback;
      else if (c == "outputs") opts.capture = CaptureMode::Outputs;
      else throw Napi::TypeError::New(env, "capture must be 'auto', 'callback' or 'outputs'");
    } else if (!cap.IsUndefined()) {
      throw Napi::TypeError::New(env, "capture must be a string");
    }
    Napi::Value dev = o.Get("device");
    if (dev.IsString()) opts.device = dev.As<Napi::String>().Utf8Value();
    else if (!dev.IsUndefined()) throw Napi::TypeError::New(env, "device must be a string");
  }
  auto* data = env.GetInstanceData<AddonData>();
  return queue<std::shared_ptr<Engine>>(
      env, [path, hp, opts, gguf]() { return std::make_shared<Engine>(path, gguf ? readGgufHParams(path) : hp, opts); },
      [data](Napi::Env env, std::shared_ptr<Engine>& engine) -> Napi::Value {
        Napi::Object obj = data->modelClass.New({});
        NativeModel::Unwrap(obj)->attach(std::move(engine));
        return obj;
      });
}

Napi::Value GpuBackends(const Napi::CallbackInfo& info) {
  std::vector<std::string> names = availableGpuBackends();
  Napi::Array out = Napi::Array::New(info.Env(), names.size());
  for (size_t i = 0; i < names.size(); ++i) out.Set(uint32_t(i), names[i]);
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  data->modelClass = Napi::Persistent(NativeModel::Define(env));
  env.SetInstanceData(data);  // freed by N-API at environment teardown
  exports.Set("loadModel", Napi::Function::New(env, LoadModel));
  exports.Set("gpuBackends", Napi::Function::New(env, GpuBackends));
  exports.Set("convertToGguf", Napi::Function::New(env, ConvertToGguf));
  exports.Set("ggmlVersion", Napi::String::New(env, "0.15.1"));
  return exports;
}

}  // namespace
}  // namespace layerlens

static Napi::Object InitLayerlens(Napi::Env env, Napi::Object exports) { return layerlens::Init(env, exports); }
NODE_API_MODULE(layerlens, InitLayerlens)
