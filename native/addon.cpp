// N-API surface of layerlens: loadModel() and the NativeModel class. Every heavy call runs in an
// AsyncWorker on libuv's pool and resolves a Promise; results are copied into fresh TypedArrays in
// OnOK (no external buffers, which Electron's sandbox forbids). See lib/model/native.ts for the JS types.
#include <napi.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "engine.hpp"
#include "io/gguf_model.hpp"
#include "train/lens_trainer.hpp"

namespace layerlens {
namespace {

// ---- argument helpers: turn bad JS input into TypeErrors before anything native runs ----

// One options object of a call, mirroring a C++ request struct. Fields are read with Has/Get; a
// missing required field, a field of the wrong type or an unknown field (a typo would otherwise be
// ignored silently) becomes a TypeError naming the call and the field.
class Options {
 public:
  Options(const Napi::Value& v, std::string call) : call_(std::move(call)) {
    if (!v.IsObject() || v.IsArray() || v.IsTypedArray() || v.IsFunction()) {
      throw Napi::TypeError::New(v.Env(), call_ + ": expected an options object");
    }
    obj_ = v.As<Napi::Object>();
  }

  // Throws for a field not in `known`.
  void onlyKnown(std::initializer_list<const char*> known) const {
    Napi::Array keys = obj_.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      const std::string key = keys.Get(i).ToString().Utf8Value();
      if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; })) {
        std::string list;
        for (const char* k : known) list += std::string(list.empty() ? "" : ", ") + k;
        throw Napi::TypeError::New(obj_.Env(), call_ + ": unknown option '" + key + "' (expected " + list + ")");
      }
    }
  }

  // Present and neither undefined nor null.
  bool has(const char* key) const {
    if (!obj_.Has(key)) return false;
    Napi::Value v = obj_.Get(key);
    return !v.IsUndefined() && !v.IsNull();
  }

  Napi::Value get(const char* key) const { return obj_.Get(key); }
  std::string field(const char* key) const { return call_ + ": '" + key + "'"; }

  Napi::Value required(const char* key) const {
    if (!has(key)) throw Napi::TypeError::New(obj_.Env(), field(key) + " is required");
    return obj_.Get(key);
  }

  int32_t int32(const char* key) const {
    Napi::Value v = required(key);
    if (!isInt(v)) throw Napi::TypeError::New(obj_.Env(), field(key) + " must be a 32-bit integer");
    return v.As<Napi::Number>().Int32Value();
  }
  int32_t int32(const char* key, int32_t fallback) const { return has(key) ? int32(key) : fallback; }

  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    Napi::Value v = obj_.Get(key);
    if (!v.IsBoolean()) throw Napi::TypeError::New(obj_.Env(), field(key) + " must be a boolean");
    return v.As<Napi::Boolean>().Value();
  }

  std::string string(const char* key) const {
    Napi::Value v = required(key);
    if (!v.IsString()) throw Napi::TypeError::New(obj_.Env(), field(key) + " must be a string");
    return v.As<Napi::String>().Utf8Value();
  }
  std::string string(const char* key, const std::string& fallback) const { return has(key) ? string(key) : fallback; }

  std::vector<int32_t> int32Array(const char* key) const { return int32Vector(required(key), field(key).c_str()); }
  std::vector<float> float32Array(const char* key) const { return float32Vector(required(key), field(key).c_str()); }

  std::vector<std::string> strings(const char* key) const {
    Napi::Value v = required(key);
    const std::string what = field(key) + " must be an array of strings";
    if (!v.IsArray()) throw Napi::TypeError::New(obj_.Env(), what);
    Napi::Array a = v.As<Napi::Array>();
    std::vector<std::string> out;
    out.reserve(a.Length());
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value x = a.Get(i);
      if (!x.IsString()) throw Napi::TypeError::New(obj_.Env(), what);
      out.push_back(x.As<Napi::String>().Utf8Value());
    }
    return out;
  }

  const std::string& call() const { return call_; }

 private:
  static bool isInt(const Napi::Value& v) {
    if (!v.IsNumber()) return false;
    const double d = v.As<Napi::Number>().DoubleValue();
    return d == double(int32_t(d));
  }
  static std::vector<int32_t> int32Vector(const Napi::Value& v, const char* what) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
      throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an Int32Array");
    }
    Napi::Int32Array a = v.As<Napi::Int32Array>();
    return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
  }
  static std::vector<float> float32Vector(const Napi::Value& v, const char* what) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a Float32Array");
    }
    Napi::Float32Array a = v.As<Napi::Float32Array>();
    return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
  }

  Napi::Object obj_;
  std::string call_;
};

// A hook name from JS, parsed once here: the engine works with {kind, layer}.
HookRef hookFrom(Napi::Env env, const std::string& name, int32_t nLayer, const std::string& field) {
  try {
    return parseHookName(name, nLayer);
  } catch (const std::invalid_argument& e) {
    throw Napi::Error::New(env, field + ": " + e.what());
  }
}

// [{hook: string, mul?: Float32Array, add?: Float32Array}] (sizes are checked by the engine).
std::vector<InterventionSpec> interventionsFrom(const Options& options, int32_t nLayer,
                                                const char* key = "interventions") {
  std::vector<InterventionSpec> out;
  if (!options.has(key)) return out;
  Napi::Value v = options.get(key);
  Napi::Env env = v.Env();
  if (!v.IsArray()) throw Napi::TypeError::New(env, options.field(key) + " must be an array");
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    const Options iv(a.Get(i), options.call() + ": " + key + "[" + std::to_string(i) + "]");
    iv.onlyKnown({"hook", "mul", "add"});
    InterventionSpec spec;
    spec.hook = hookFrom(env, iv.string("hook"), nLayer, iv.field("hook"));
    if (iv.has("mul")) spec.mul = iv.float32Array("mul");
    if (iv.has("add")) spec.add = iv.float32Array("add");
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
      : Napi::AsyncWorker(env, "layerlens"),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        done_(std::move(done)) {}

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
Napi::Promise queue(Napi::Env env, typename PromiseWorker<Result>::Work work,
                    typename PromiseWorker<Result>::Done done) {
  auto* worker = new PromiseWorker<Result>(env, std::move(work), std::move(done));  // owned by libuv until it completes
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
}

// ---- NativeModel ----

class NativeModel : public Napi::ObjectWrap<NativeModel> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "NativeModel",
        {InstanceMethod("run", &NativeModel::Run), InstanceMethod("lens", &NativeModel::Lens),
         InstanceMethod("generate", &NativeModel::Generate), InstanceMethod("weight", &NativeModel::Weight),
         InstanceMethod("info", &NativeModel::Info), InstanceMethod("dispose", &NativeModel::Dispose),
         InstanceMethod("trainLens", &NativeModel::TrainLens)});
  }

  explicit NativeModel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeModel>(info) {}

  void attach(std::shared_ptr<Engine> engine) { engine_ = std::move(engine); }

 private:
  // Workers hold their own reference, so dispose() during a call frees the model when it ends.
  std::shared_ptr<Engine> engine(Napi::Env env) {
    if (!engine_) throw Napi::Error::New(env, "this model has been disposed");
    return engine_;
  }

  // run({tokens: Int32Array, hooks?: string[], positions?: Int32Array, interventions?: [{hook, mul?, add?}],
  //      logits?: boolean = true}) — RunRequest. Hook names are parsed here, once.
  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto eng = engine(env);
    const int32_t nLayer = eng->hparams().nLayer;
    const Options o(info[0], "run");
    o.onlyKnown({"tokens", "hooks", "positions", "interventions", "logits"});
    RunRequest req;
    req.tokens = o.int32Array("tokens");
    if (o.has("hooks")) {
      const std::vector<std::string> names = o.strings("hooks");
      for (size_t i = 0; i < names.size(); ++i)
        req.hooks.push_back(hookFrom(env, names[i], nLayer, o.field("hooks") + "[" + std::to_string(i) + "]"));
    }
    if (o.has("positions")) req.positions = o.int32Array("positions");
    req.interventions = interventionsFrom(o, nLayer);
    req.logits = o.boolean("logits", true);
    return queue<RunResult>(
        env, [eng, req]() { return eng->run(req); },
        [](Napi::Env env, RunResult& r) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          Napi::Array captured = Napi::Array::New(env, r.captured.size());
          for (size_t i = 0; i < r.captured.size(); ++i) {
            const CapturedTensor& t = r.captured[i];
            Napi::Object o = Napi::Object::New(env);
            o.Set("name", hookName(t.hook));
            o.Set("kind", hookKindInfo(t.hook.kind).name);
            o.Set("layer", t.hook.layer < 0 ? env.Null() : Napi::Number::New(env, t.hook.layer));
            Napi::Array shape = Napi::Array::New(env, t.shape.size());
            for (size_t j = 0; j < t.shape.size(); ++j)
              shape.Set(uint32_t(j), Napi::Number::New(env, double(t.shape[j])));
            o.Set("shape", shape);
            o.Set("data", toFloat32Array(env, t.data.data(), t.data.size()));
            captured.Set(uint32_t(i), o);
          }
          out.Set("captured", captured);
          out.Set("logits", toFloat32Array(env, r.logits.data(), r.logits.size()));
          return out;
        });
  }

  // lens({vectors: Float32Array, count: number, k: number, entropy?: boolean, targets?: Int32Array,
  //       references?: Int32Array, sums?: Int32Array}) — LensRequest
  Napi::Value Lens(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto eng = engine(env);
    const Options o(info[0], "lens");
    o.onlyKnown({"vectors", "count", "k", "entropy", "targets", "references", "sums"});
    LensRequest req;
    req.vectors = o.float32Array("vectors");
    req.m = o.int32("count");
    req.k = o.int32("k");
    req.entropy = o.boolean("entropy", false);
    if (o.has("targets")) req.targets = o.int32Array("targets");
    if (o.has("references")) req.references = o.int32Array("references");
    if (o.has("sums")) {
      const std::vector<int32_t> flat = o.int32Array("sums");
      if (flat.size() % 3 != 0)
        throw Napi::RangeError::New(env, "lens: 'sums' must hold [row, a, b] triples (a length divisible by 3)");
      for (size_t i = 0; i < flat.size(); i += 3) req.sums.push_back({flat[i], flat[i + 1], flat[i + 2]});
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

  // generate({tokens: Int32Array, maxNewTokens: number, stopToken?: number = -1,
  //           interventions?: [{hook, mul?, add?}], stepInterventions?: [{hook, mul?, add?}] (one token each)})
  Napi::Value Generate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto eng = engine(env);
    const Options o(info[0], "generate");
    o.onlyKnown({"tokens", "maxNewTokens", "stopToken", "interventions", "stepInterventions"});
    std::vector<int32_t> prompt = o.int32Array("tokens");
    const int32_t maxNew = o.int32("maxNewTokens");
    const int32_t stop = o.int32("stopToken", -1);
    std::vector<InterventionSpec> interventions = interventionsFrom(o, eng->hparams().nLayer);
    std::vector<InterventionSpec> steps = interventionsFrom(o, eng->hparams().nLayer, "stepInterventions");
    return queue<std::vector<int32_t>>(
        env,
        [eng, prompt = std::move(prompt), maxNew, stop, interventions = std::move(interventions),
         steps = std::move(steps)]() { return eng->generate(prompt, maxNew, stop, interventions, steps); },
        [](Napi::Env env, std::vector<int32_t>& ids) -> Napi::Value {
          return toInt32Array(env, ids.data(), ids.size());
        });
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

  // trainLens({inputs, final, weights, biases: Float32Array, rows, count: number, gradients?: boolean})
  // -> {loss: Float64Array, gradWeights?: Float32Array, gradBiases?: Float32Array} — LensTrainBatch.
  Napi::Value TrainLens(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto eng = engine(env);
    const Options o(info[0], "trainLens");
    o.onlyKnown({"inputs", "final", "weights", "biases", "rows", "count", "gradients"});
    LensTrainBatch batch;
    batch.rows = o.int32("rows");
    batch.count = o.int32("count");
    batch.inputs = o.float32Array("inputs");
    batch.final = o.float32Array("final");
    batch.weights = o.float32Array("weights");
    batch.biases = o.float32Array("biases");
    batch.gradients = o.boolean("gradients", true);
    if (!trainer_) trainer_ = std::make_shared<LensTrainer>(eng);  // W_U's copies are made on its first step
    return queue<LensTrainResult>(
        env, [trainer = trainer_, batch = std::move(batch)]() { return trainer->step(batch); },
        [](Napi::Env env, LensTrainResult& r) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          out.Set("loss", toFloat64Array(env, r.loss));
          if (!r.gradWeights.empty()) {
            out.Set("gradWeights", toFloat32Array(env, r.gradWeights.data(), r.gradWeights.size()));
            out.Set("gradBiases", toFloat32Array(env, r.gradBiases.data(), r.gradBiases.size()));
          }
          return out;
        });
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    engine_.reset();
    trainer_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<Engine> engine_;
  std::shared_ptr<LensTrainer> trainer_;  // made on the first trainLens call
};

struct AddonData {
  Napi::FunctionReference modelClass;
};

// {n_layer, n_embd, n_head, n_vocab, n_ctx, eps}; other fields (a config's model_type) are ignored.
HParams hparamsFrom(const Options& h) {
  HParams hp;
  hp.nLayer = h.int32("n_layer");
  hp.nEmbd = h.int32("n_embd");
  hp.nHead = h.int32("n_head");
  hp.nVocab = h.int32("n_vocab");
  hp.nCtx = h.int32("n_ctx");
  Napi::Value eps = h.required("eps");
  if (!eps.IsNumber()) throw Napi::TypeError::New(eps.Env(), h.field("eps") + " must be a number");
  hp.eps = eps.As<Napi::Number>().FloatValue();
  try {
    hp.validate();
  } catch (const std::exception& e) {
    throw Napi::Error::New(eps.Env(), e.what());
  }
  return hp;
}

// convertToGguf({src: string, hparams, dst: string, type: 'f32'|'f16'|'q8_0', name: string, threads?: number,
//                vocab?: {tokens: string[], merges: string[], types: Int32Array, eosId?: number}})
Napi::Value ConvertToGguf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Options o(info[0], "convertToGguf");
  o.onlyKnown({"src", "hparams", "dst", "type", "name", "threads", "vocab"});
  const std::string src = o.string("src"), dst = o.string("dst"), dtype = o.string("type"), name = o.string("name");
  const HParams hp = hparamsFrom(Options(o.required("hparams"), "convertToGguf: hparams"));
  const int threads = o.int32("threads", 0);
  GgufVocab vocab;
  if (o.has("vocab")) {
    const Options v(o.get("vocab"), "convertToGguf: vocab");
    v.onlyKnown({"tokens", "merges", "types", "eosId"});
    vocab.tokens = v.strings("tokens");
    vocab.merges = v.strings("merges");
    vocab.types = v.int32Array("types");
    vocab.eos = v.int32("eosId", -1);
  }
  if (dtype != "f32" && dtype != "f16" && dtype != "q8_0")
    throw Napi::TypeError::New(env, "convertToGguf: 'type' must be f32, f16 or q8_0");
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

// loadModel({path: string, hparams?: {n_layer, n_embd, n_head, n_vocab, n_ctx, eps}, device?, threads?,
//            capture?: 'auto'|'callback'|'outputs', dtype?}) — EngineOptions. hparams is required for
// safetensors checkpoints (from config.json) and absent for a GGUF file, which carries its own.
Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Options o(info[0], "loadModel");
  o.onlyKnown({"path", "hparams", "device", "threads", "capture", "dtype"});
  const std::string path = o.string("path");
  const bool gguf = isGgufPath(path);
  EngineOptions opts;
  opts.threads = o.int32("threads", 0);
  opts.dtype = o.string("dtype", "auto");
  opts.device = o.string("device", "auto");
  const std::string capture = o.string("capture", "auto");
  if (capture == "auto") opts.capture = CaptureMode::Auto;
  else if (capture == "callback") opts.capture = CaptureMode::Callback;
  else if (capture == "outputs") opts.capture = CaptureMode::Outputs;
  else throw Napi::TypeError::New(env, "loadModel: 'capture' must be 'auto', 'callback' or 'outputs'");
  HParams hp;
  if (gguf) {
    if (o.has("hparams"))
      throw Napi::TypeError::New(env, "loadModel: 'hparams' must be absent for a GGUF file, which carries its own");
  } else {
    hp = hparamsFrom(Options(o.required("hparams"), "loadModel: hparams"));
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

// The hook registry (hook_kinds.hpp), in result order, for lib/hooks.ts.
Napi::Array HookKinds(Napi::Env env) {
  Napi::Array out = Napi::Array::New(env, kHookKinds.size());
  for (size_t i = 0; i < kHookKinds.size(); ++i) {
    const HookKindInfo& k = kHookKinds[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("kind", k.name);
    Napi::Object width = Napi::Object::New(env);
    width.Set("n_embd", k.embdFactor);
    width.Set("n_tokens", k.tokensFactor);
    o.Set("rowWidth", width);
    o.Set("perHead", k.perHead);
    o.Set("inBlock", k.inBlock);
    o.Set("lensable", k.lensable);
    o.Set("intervenable", k.intervenable);
    o.Set("inAll", k.inAll);
    o.Set("inDefault", k.inDefault);
    out.Set(uint32_t(i), o);
  }
  return out;
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
  exports.Set("hookKinds", HookKinds(env));
  exports.Set("ggmlVersion", Napi::String::New(env, "0.15.1"));
  return exports;
}

}  // namespace
}  // namespace layerlens

static Napi::Object InitLayerlens(Napi::Env env, Napi::Object exports) { return layerlens::Init(env, exports); }
NODE_API_MODULE(layerlens, InitLayerlens)
