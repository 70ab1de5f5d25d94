// N-API helpers shared by the addon's classes (addon.cpp, llama/llama_addon.cpp): one options object
// per call checked field by field, hook names parsed at the boundary, TypedArray copies, and one generic
// promise worker that runs a call on libuv's pool.
#pragma once

#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "rpc/failures.hpp"
#include "run_types.hpp"
#include "sampling.hpp"

namespace layerlens {

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

  double number(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    Napi::Value v = obj_.Get(key);
    if (!v.IsNumber()) throw Napi::TypeError::New(obj_.Env(), field(key) + " must be a number");
    return v.As<Napi::Number>().DoubleValue();
  }

  std::string string(const char* key) const {
    Napi::Value v = required(key);
    if (!v.IsString()) throw Napi::TypeError::New(obj_.Env(), field(key) + " must be a string");
    return v.As<Napi::String>().Utf8Value();
  }
  std::string string(const char* key, const std::string& fallback) const { return has(key) ? string(key) : fallback; }

  std::vector<int32_t> int32Array(const char* key) const { return int32Vector(required(key), field(key).c_str()); }
  std::vector<float> float32Array(const char* key) const { return float32Vector(required(key), field(key).c_str()); }
  // An array of Int32Arrays (one per sequence of a batch).
  std::vector<std::vector<int32_t>> int32Arrays(const char* key) const {
    Napi::Value v = required(key);
    if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), field(key) + " must be an array of Int32Arrays");
    Napi::Array a = v.As<Napi::Array>();
    std::vector<std::vector<int32_t>> out;
    out.reserve(a.Length());
    for (uint32_t i = 0; i < a.Length(); ++i)
      out.push_back(int32Vector(a.Get(i), (field(key) + "[" + std::to_string(i) + "]").c_str()));
    return out;
  }

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
inline HookRef hookFrom(Napi::Env env, const std::string& name, int32_t nLayer, const std::string& field) {
  try {
    return parseHookName(name, nLayer);
  } catch (const std::invalid_argument& e) {
    throw Napi::Error::New(env, field + ": " + e.what());
  }
}

// [{hook: string, mul?: Float32Array, add?: Float32Array}] (sizes are checked by the engine).
inline std::vector<InterventionSpec> interventionsFrom(const Options& options, int32_t nLayer,
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

// generate()'s temperature, topK, topP and seed, checked here as well as by the engine: a value that
// does not survive the conversion to the C++ field (a float overflowing, a seed beyond 2^53) is an
// error rather than a different value.
inline SamplingParams samplingFrom(Napi::Env env, const Options& o) {
  SamplingParams p;
  const double temperature = o.number("temperature", 0.0);
  if (!(temperature >= 0 && temperature <= double(std::numeric_limits<float>::max()))) {
    throw Napi::RangeError::New(env, o.field("temperature") + " must be a finite number >= 0 (0 = greedy)");
  }
  p.temperature = float(temperature);
  const double topP = o.number("topP", 1.0);
  if (!(topP > 0 && topP <= 1) || !(float(topP) > 0)) {
    throw Napi::RangeError::New(env, o.field("topP") + " must be in (0, 1]");
  }
  p.topP = float(topP);
  p.topK = o.int32("topK", 0);
  const double seed = o.number("seed", 0.0);
  if (!(seed >= 0 && seed <= 9007199254740991.0) || seed != std::floor(seed)) {
    throw Napi::RangeError::New(env, o.field("seed") + " must be an integer in 0..2^53-1");
  }
  p.seed = uint64_t(seed);
  return p;
}

inline Napi::Float32Array toFloat32Array(Napi::Env env, const float* data, size_t n) {
  Napi::Float32Array out = Napi::Float32Array::New(env, n);
  if (n) std::memcpy(out.Data(), data, n * sizeof(float));
  return out;
}

inline Napi::Float64Array toFloat64Array(Napi::Env env, const std::vector<double>& v) {
  Napi::Float64Array out = Napi::Float64Array::New(env, v.size());
  std::copy(v.begin(), v.end(), out.Data());
  return out;
}

inline Napi::Int32Array toInt32Array(Napi::Env env, const int32_t* data, size_t n) {
  Napi::Int32Array out = Napi::Int32Array::New(env, n);
  if (n) std::memcpy(out.Data(), data, n * sizeof(int32_t));
  return out;
}

// A load's `rpcTimeoutMs` option (0, the default: no limit); a TypeError naming `fn` when negative.
inline int64_t rpcTimeoutOption(Napi::Env env, const Options& o, const char* fn) {
  const int32_t ms = o.int32("rpcTimeoutMs", 0);
  if (ms < 0) throw Napi::TypeError::New(env, std::string(fn) + ": 'rpcTimeoutMs' must be >= 0 (0: no limit)");
  return ms;
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
        done_(std::move(done)),
        remote_(takeNextCall()) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      if (remote_.endpoints.empty()) {
        result_ = work_();
      } else {
        // The result goes through a box the work's thread shares: guardRpc may return (a server
        // died) while that thread is still inside the work.
        auto box = std::make_shared<Result>();
        guardRpc(remote_, [box, work = work_] { *box = work(); });
        result_ = std::move(*box);
      }
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
  RpcCall remote_;  // the RPC servers the work talks to, and its timeout (rpc/failures.hpp)
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

// run({tokens: Int32Array, hooks?: string[], positions?: Int32Array, interventions?: [{hook, mul?, add?}],
//      logits?: boolean = true}) — RunRequest. Hook names are parsed here, once.
// The `hooks` field (hook names, parsed once here), empty when absent.
inline std::vector<HookRef> hooksFrom(Napi::Env env, const Options& o, int32_t nLayer) {
  std::vector<HookRef> hooks;
  if (!o.has("hooks")) return hooks;
  const std::vector<std::string> names = o.strings("hooks");
  for (size_t i = 0; i < names.size(); ++i)
    hooks.push_back(hookFrom(env, names[i], nLayer, o.field("hooks") + "[" + std::to_string(i) + "]"));
  return hooks;
}

inline RunRequest runRequestFrom(Napi::Env env, const Options& o, int32_t nLayer) {
  RunRequest req;
  req.tokens = o.int32Array("tokens");
  req.hooks = hooksFrom(env, o, nLayer);
  if (o.has("positions")) req.positions = o.int32Array("positions");
  req.interventions = interventionsFrom(o, nLayer);
  req.logits = o.boolean("logits", true);
  return req;
}

inline Napi::Value runResultToJs(Napi::Env env, RunResult& r) {
  Napi::Object out = Napi::Object::New(env);
  Napi::Array captured = Napi::Array::New(env, r.captured.size());
  for (size_t i = 0; i < r.captured.size(); ++i) {
    const CapturedTensor& t = r.captured[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", hookName(t.hook));
    o.Set("kind", hookKindInfo(t.hook.kind).name);
    o.Set("layer", t.hook.layer < 0 ? env.Null() : Napi::Number::New(env, t.hook.layer));
    Napi::Array shape = Napi::Array::New(env, t.shape.size());
    for (size_t j = 0; j < t.shape.size(); ++j) shape.Set(uint32_t(j), Napi::Number::New(env, double(t.shape[j])));
    o.Set("shape", shape);
    o.Set("data", toFloat32Array(env, t.data.data(), t.data.size()));
    captured.Set(uint32_t(i), o);
  }
  out.Set("captured", captured);
  out.Set("logits", toFloat32Array(env, r.logits.data(), r.logits.size()));
  return out;
}

// lens({vectors: Float32Array, count: number, k: number, entropy?: boolean, targets?: Int32Array,
//       references?: Int32Array, sums?: Int32Array}) — LensRequest
inline LensRequest lensRequestFrom(Napi::Env env, const Options& o) {
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
  return req;
}

inline Napi::Value lensOutputToJs(Napi::Env env, LensOutput& r) {
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
}

// run() and lens() of either engine class: the same options object, checks, worker and result shape.
template <typename Engine>
Napi::Value queueRun(const Napi::CallbackInfo& info, std::shared_ptr<Engine> eng, int32_t nLayer) {
  Napi::Env env = info.Env();
  const Options o(info[0], "run");
  o.onlyKnown({"tokens", "hooks", "positions", "interventions", "logits"});
  RunRequest req = runRequestFrom(env, o, nLayer);
  return queue<RunResult>(
      env, [eng, req]() { return eng->run(req); }, [](Napi::Env env, RunResult& r) { return runResultToJs(env, r); });
}

// runBatch({sequences: Int32Array[], hooks?: string[], positions?: Int32Array[] (one per sequence),
//           logits?: boolean = true}) — BatchRunRequest; resolves to one run() result per sequence.
inline BatchRunRequest batchRunRequestFrom(Napi::Env env, const Options& o, int32_t nLayer) {
  BatchRunRequest req;
  req.sequences = o.int32Arrays("sequences");
  req.hooks = hooksFrom(env, o, nLayer);
  if (o.has("positions")) req.positions = o.int32Arrays("positions");
  req.logits = o.boolean("logits", true);
  return req;
}

template <typename Engine>
Napi::Value queueRunBatch(const Napi::CallbackInfo& info, std::shared_ptr<Engine> eng, int32_t nLayer) {
  Napi::Env env = info.Env();
  const Options o(info[0], "runBatch");
  o.onlyKnown({"sequences", "hooks", "positions", "logits"});
  BatchRunRequest req = batchRunRequestFrom(env, o, nLayer);
  return queue<std::vector<RunResult>>(
      env, [eng, req = std::move(req)]() { return eng->runBatch(req); },
      [](Napi::Env env, std::vector<RunResult>& results) -> Napi::Value {
        Napi::Array out = Napi::Array::New(env, results.size());
        for (size_t i = 0; i < results.size(); ++i) out.Set(uint32_t(i), runResultToJs(env, results[i]));
        return out;
      });
}

template <typename Engine>
Napi::Value queueLens(const Napi::CallbackInfo& info, std::shared_ptr<Engine> eng) {
  Napi::Env env = info.Env();
  const Options o(info[0], "lens");
  o.onlyKnown({"vectors", "count", "k", "entropy", "targets", "references", "sums"});
  LensRequest req = lensRequestFrom(env, o);
  return queue<LensOutput>(
      env, [eng, req = std::move(req)]() { return eng->lens(req); },
      [](Napi::Env env, LensOutput& r) { return lensOutputToJs(env, r); });
}

}  // namespace layerlens
