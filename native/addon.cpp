// N-API surface of layerlens: loadModel() and the NativeModel class. Every heavy call runs in an
// AsyncWorker on libuv's pool and resolves a Promise; results are copied into fresh TypedArrays in
// OnOK (no external buffers, which Electron's sandbox forbids). See lib/model/native.ts for the JS types.
#include <napi.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine.hpp"
#include "io/gguf_model.hpp"
#include "lens/translate_addon.hpp"
#include "llama/llama_addon.hpp"
#include "llama/llama_log.hpp"
#include "napi_helpers.hpp"
#include "rpc/endpoints.hpp"
#include "rpc/failures.hpp"
#include "rpc_server.hpp"
#include "sampling.hpp"
#include "train/lens_trainer.hpp"

namespace layerlens {
namespace {

// ---- NativeModel ----

class NativeModel : public Napi::ObjectWrap<NativeModel> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "NativeModel",
        {InstanceMethod("run", &NativeModel::Run), InstanceMethod("runBatch", &NativeModel::RunBatch),
         InstanceMethod("lens", &NativeModel::Lens), InstanceMethod("generate", &NativeModel::Generate),
         InstanceMethod("weight", &NativeModel::Weight), InstanceMethod("info", &NativeModel::Info),
         InstanceMethod("dispose", &NativeModel::Dispose), InstanceMethod("trainLens", &NativeModel::TrainLens)});
  }

  explicit NativeModel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeModel>(info) {}
  ~NativeModel() override { release(); }

  void attach(std::shared_ptr<Engine> engine) { engine_ = std::move(engine); }

 private:
  // Workers hold their own reference, so dispose() during a call frees the model when it ends.
  std::shared_ptr<Engine> engine(Napi::Env env) {
    if (!engine_) throw Napi::Error::New(env, "this model has been disposed");
    RpcCall call = engine_->rpcCall();
    const std::string failed = rpcFailureOf(call.endpoints);
    if (!failed.empty()) throw Napi::Error::New(env, failed);
    setNextCall(std::move(call));  // the call about to be queued talks to these servers
    return engine_;
  }

  void release() {
    trainer_.reset();  // it holds the engine too
    if (engine_) releaseEngine(engine_, std::vector<std::string>(engine_->backends().rpcEndpoints));
  }

  // run({tokens: Int32Array, hooks?: string[], positions?: Int32Array, interventions?: [{hook, mul?, add?}],
  //      logits?: boolean = true}) — RunRequest. Hook names are parsed here, once.
  Napi::Value Run(const Napi::CallbackInfo& info) {
    auto eng = engine(info.Env());
    return queueRun(info, eng, eng->hparams().nLayer);
  }

  // runBatch({sequences: Int32Array[], hooks?: string[], positions?: Int32Array[], logits?: boolean = true})
  // — BatchRunRequest: several sequences packed into one forward, one run() result per sequence.
  Napi::Value RunBatch(const Napi::CallbackInfo& info) {
    auto eng = engine(info.Env());
    return queueRunBatch(info, eng, eng->hparams().nLayer);
  }

  // lens({vectors: Float32Array, count: number, k: number, entropy?: boolean, targets?: Int32Array,
  //       references?: Int32Array, sums?: Int32Array}) — LensRequest
  Napi::Value Lens(const Napi::CallbackInfo& info) { return queueLens(info, engine(info.Env())); }

  // generate({tokens: Int32Array, maxNewTokens: number, stopToken?: number = -1,
  //           interventions?: [{hook, mul?, add?}], stepInterventions?: [{hook, mul?, add?}] (one token each),
  //           temperature?: number = 0, topK?: number = 0, topP?: number = 1, seed?: number = 0})
  Napi::Value Generate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto eng = engine(env);
    const Options o(info[0], "generate");
    o.onlyKnown({"tokens", "maxNewTokens", "stopToken", "interventions", "stepInterventions", "temperature", "topK",
                 "topP", "seed"});
    std::vector<int32_t> prompt = o.int32Array("tokens");
    const int32_t maxNew = o.int32("maxNewTokens");
    const int32_t stop = o.int32("stopToken", -1);
    std::vector<InterventionSpec> interventions = interventionsFrom(o, eng->hparams().nLayer);
    std::vector<InterventionSpec> steps = interventionsFrom(o, eng->hparams().nLayer, "stepInterventions");
    const SamplingParams sampling = samplingFrom(env, o);
    return queue<std::vector<int32_t>>(
        env,
        [eng, prompt = std::move(prompt), maxNew, stop, interventions = std::move(interventions),
         steps = std::move(steps),
         sampling]() { return eng->generate(prompt, maxNew, stop, interventions, steps, sampling); },
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
    release();
    return info.Env().Undefined();
  }

  std::shared_ptr<Engine> engine_;
  std::shared_ptr<LensTrainer> trainer_;  // made on the first trainLens call
};

struct AddonData {
  Napi::FunctionReference modelClass;
  Napi::FunctionReference llamaModelClass;
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
  setNextCall({});  // local work
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
  o.onlyKnown({"path", "hparams", "device", "threads", "capture", "dtype", "rpcTimeoutMs"});
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
  try {
    opts.rpcTimeoutMs = rpcTimeoutOption(env, o, "loadModel");
    setNextCall(
        {parseRpcDevice(opts.device), opts.rpcTimeoutMs});  // a load from RPC servers runs guarded (rpc/failures.hpp)
  } catch (const std::invalid_argument& e) {
    throw Napi::TypeError::New(env, std::string("loadModel: ") + e.what());
  }
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
  data->llamaModelClass = Napi::Persistent(defineLlamaModelClass(env));
  setLlamaLogLevel(LogLevel::Errors);
  env.SetInstanceData(data);  // freed by N-API at environment teardown
  exports.Set("loadModel", Napi::Function::New(env, LoadModel));
  exports.Set("loadLlamaModel", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                auto* data = info.Env().GetInstanceData<AddonData>();
                return loadLlamaModel(info.Env(), Options(info[0], "loadLlamaModel"), data->llamaModelClass);
              }));
  exports.Set("setLogLevel", Napi::Function::New(env, setLogLevel));
  exports.Set("gpuBackends", Napi::Function::New(env, GpuBackends));
  exports.Set("convertToGguf", Napi::Function::New(env, ConvertToGguf));
  exports.Set("Translators", defineTranslatorsClass(env));
  exports.Set("startRpcServer", Napi::Function::New(env, startRpcServer));
  exports.Set("hookKinds", HookKinds(env));
  exports.Set("ggmlVersion", Napi::String::New(env, ggml_version()));
  return exports;
}

}  // namespace
}  // namespace layerlens

static Napi::Object InitLayerlens(Napi::Env env, Napi::Object exports) { return layerlens::Init(env, exports); }
NODE_API_MODULE(layerlens, InitLayerlens)
