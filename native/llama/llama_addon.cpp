#include "llama_addon.hpp"

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../rpc/endpoints.hpp"
#include "../rpc/failures.hpp"
#include "llama_control_vector.hpp"
#include "llama_engine.hpp"
#include "llama_log.hpp"

namespace layerlens {
namespace {

class NativeLlamaModel : public Napi::ObjectWrap<NativeLlamaModel> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "NativeLlamaModel",
        {InstanceMethod("run", &NativeLlamaModel::Run), InstanceMethod("runBatch", &NativeLlamaModel::RunBatch),
         InstanceMethod("lens", &NativeLlamaModel::Lens), InstanceMethod("generate", &NativeLlamaModel::Generate),
         InstanceMethod("tokenize", &NativeLlamaModel::Tokenize), InstanceMethod("pieces", &NativeLlamaModel::Pieces),
         InstanceMethod("detokenize", &NativeLlamaModel::Detokenize),
         InstanceMethod("applyChatTemplate", &NativeLlamaModel::ApplyChatTemplate),
         InstanceMethod("info", &NativeLlamaModel::Info), InstanceMethod("dispose", &NativeLlamaModel::Dispose),
         InstanceMethod("setControlVector", &NativeLlamaModel::SetControlVector)});
  }

  explicit NativeLlamaModel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeLlamaModel>(info) {}
  void attach(std::shared_ptr<LlamaEngine> engine) { engine_ = std::move(engine); }
  ~NativeLlamaModel() override { release(); }

 private:
  std::shared_ptr<LlamaEngine> engine(Napi::Env env) {
    if (!engine_) throw Napi::Error::New(env, "this model has been disposed");
    RpcCall call = engine_->rpcCall();
    const std::string failed = rpcFailureOf(call.endpoints);
    if (!failed.empty()) throw Napi::Error::New(env, failed);
    setNextCall(std::move(call));  // the call about to be queued talks to these servers
    return engine_;
  }

  void release() {
    if (engine_) releaseEngine(engine_, std::vector<std::string>(engine_->info().rpcEndpoints));
  }

  Napi::Value Run(const Napi::CallbackInfo& info) {
    auto eng = engine(info.Env());
    return queueRun(info, eng, eng->info().nLayer);
  }

  // runBatch({sequences, hooks?, positions?, logits?}): several sequences in one llama_decode (BatchRunRequest).
  Napi::Value RunBatch(const Napi::CallbackInfo& info) {
    auto eng = engine(info.Env());
    return queueRunBatch(info, eng, eng->info().nLayer);
  }

  Napi::Value Lens(const Napi::CallbackInfo& info) { return queueLens(info, engine(info.Env())); }

  // generate({tokens, maxNewTokens, stopAtEog?: boolean = true, interventions?, stepInterventions?,
  //           temperature?, topK?, topP?, seed?}): the same sampler as the GPT-2 engine (native/sampling.hpp),
  //           so a seed picks the same tokens from the same logits on both engines.
  Napi::Value Generate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto eng = engine(env);
    const Options o(info[0], "generate");
    o.onlyKnown({"tokens", "maxNewTokens", "stopAtEog", "interventions", "stepInterventions", "temperature", "topK",
                 "topP", "seed"});
    std::vector<int32_t> prompt = o.int32Array("tokens");
    const int32_t maxNew = o.int32("maxNewTokens");
    const bool stop = o.boolean("stopAtEog", true);
    const int32_t nLayer = eng->info().nLayer;
    std::vector<InterventionSpec> ivs = interventionsFrom(o, nLayer);
    std::vector<InterventionSpec> steps = interventionsFrom(o, nLayer, "stepInterventions");
    const SamplingParams sampling = samplingFrom(env, o);
    return queue<std::vector<int32_t>>(
        env,
        [eng, prompt = std::move(prompt), maxNew, stop, ivs = std::move(ivs), steps = std::move(steps), sampling]() {
          Sampler sampler(sampling);
          return eng->generate(prompt, maxNew, stop, ivs, steps,
                               [&sampler](const float* logits, int32_t n) { return sampler.sample(logits, n); });
        },
        [](Napi::Env env, std::vector<int32_t>& ids) -> Napi::Value {
          return toInt32Array(env, ids.data(), ids.size());
        });
  }

  // tokenize({text: string, addSpecial?: boolean = true, parseSpecial?: boolean = false}) -> Int32Array
  Napi::Value Tokenize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto eng = engine(env);
    const Options o(info[0], "tokenize");
    o.onlyKnown({"text", "addSpecial", "parseSpecial"});
    try {
      std::vector<int32_t> ids =
          eng->tokenize(o.string("text"), o.boolean("addSpecial", true), o.boolean("parseSpecial", false));
      return toInt32Array(env, ids.data(), ids.size());
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
  }

  // pieces(ids: Int32Array) -> Uint8Array[]: each token's bytes (a piece may be part of a UTF-8 character).
  Napi::Value Pieces(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto eng = engine(env);
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      throw Napi::TypeError::New(env, "pieces: expected an Int32Array of token ids");
    Napi::Int32Array ids = info[0].As<Napi::Int32Array>();
    Napi::Array out = Napi::Array::New(env, ids.ElementLength());
    try {
      for (size_t i = 0; i < ids.ElementLength(); ++i) {
        const std::string p = eng->piece(ids[i]);
        Napi::Uint8Array bytes = Napi::Uint8Array::New(env, p.size());
        std::copy(p.begin(), p.end(), bytes.Data());
        out.Set(uint32_t(i), bytes);
      }
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
    return out;
  }

  // detokenize(ids: Int32Array) -> Uint8Array (the text's UTF-8 bytes)
  Napi::Value Detokenize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto eng = engine(env);
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      throw Napi::TypeError::New(env, "detokenize: expected an Int32Array of token ids");
    Napi::Int32Array ids = info[0].As<Napi::Int32Array>();
    try {
      const std::string text = eng->detokenize(std::vector<int32_t>(ids.Data(), ids.Data() + ids.ElementLength()));
      Napi::Uint8Array bytes = Napi::Uint8Array::New(env, text.size());
      std::copy(text.begin(), text.end(), bytes.Data());
      return bytes;
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
  }

  // applyChatTemplate({messages: [{role, content}], addAssistant?: boolean = true}) -> string
  Napi::Value ApplyChatTemplate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto eng = engine(env);
    const Options o(info[0], "applyChatTemplate");
    o.onlyKnown({"messages", "addAssistant"});
    Napi::Value v = o.required("messages");
    if (!v.IsArray()) throw Napi::TypeError::New(env, o.field("messages") + " must be an array");
    Napi::Array a = v.As<Napi::Array>();
    std::vector<std::pair<std::string, std::string>> messages;
    for (uint32_t i = 0; i < a.Length(); ++i) {
      const Options m(a.Get(i), "applyChatTemplate: messages[" + std::to_string(i) + "]");
      m.onlyKnown({"role", "content"});
      messages.emplace_back(m.string("role"), m.string("content"));
    }
    try {
      return Napi::String::New(env, eng->applyChatTemplate(messages, o.boolean("addAssistant", true)));
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
  }

  // setControlVector({directions?: Float32Array, files?: [{path, scale?}], nEmbd: number, ilStart?: number,
  // ilEnd?: number}) -> Promise: llama.cpp's own control vector (LlamaEngine::setControlVector), from
  // directions or from control-vector files read as llama.cpp's --control-vector reads them; neither clears it.
  Napi::Value SetControlVector(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto eng = engine(env);
    const Options o(info[0], "setControlVector");
    o.onlyKnown({"directions", "files", "nEmbd", "ilStart", "ilEnd"});
    const int32_t nEmbd = o.int32("nEmbd");
    if (nEmbd != eng->info().nEmbd)
      throw Napi::RangeError::New(env, "setControlVector: nEmbd is " + std::to_string(nEmbd) + ", the model's " +
                                           std::to_string(eng->info().nEmbd));
    if (o.has("directions") && o.has("files"))
      throw Napi::TypeError::New(env, "setControlVector: give 'directions' or 'files', not both");
    std::vector<float> directions = o.has("directions") ? o.float32Array("directions") : std::vector<float>{};
    std::vector<ControlVectorFile> files;
    if (o.has("files")) {
      Napi::Value v = o.get("files");
      if (!v.IsArray()) throw Napi::TypeError::New(env, o.field("files") + " must be an array of {path, scale?}");
      Napi::Array a = v.As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); ++i) {
        const Options f(a.Get(i), "setControlVector: files[" + std::to_string(i) + "]");
        f.onlyKnown({"path", "scale"});
        files.push_back({f.string("path"), float(f.number("scale", 1.0))});
      }
    }
    // llama.cpp's defaults for --control-vector: blocks 1..n_layer
    const int32_t ilStart = o.int32("ilStart", 1), ilEnd = o.int32("ilEnd", eng->info().nLayer);
    return queue<bool>(
        env,
        [eng, directions = std::move(directions), files = std::move(files), ilStart, ilEnd]() {
          if (files.empty()) {
            eng->setControlVector(directions, ilStart, ilEnd);
            return true;
          }
          int32_t width = -1;
          const std::vector<float> summed = loadControlVectorFiles(files, width);
          if (width != eng->info().nEmbd)
            throw std::invalid_argument("the control vectors have " + std::to_string(width) +
                                        " values per direction, the model's n_embd is " +
                                        std::to_string(eng->info().nEmbd));
          eng->setControlVector(summed, ilStart, ilEnd);
          return true;
        },
        [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto eng = engine(env);
    const LlamaModelInfo& m = eng->info();
    Napi::Object o = Napi::Object::New(env);
    o.Set("engine", "llama.cpp");
    o.Set("architecture", m.arch);
    o.Set("description", m.description);
    o.Set("n_layer", m.nLayer);
    o.Set("n_embd", m.nEmbd);
    o.Set("n_head", m.nHead);
    o.Set("n_head_kv", m.nHeadKv);
    o.Set("n_ff", m.nFF);
    o.Set("n_vocab", m.nVocab);
    o.Set("n_ctx", m.nCtx);
    o.Set("n_ctx_train", m.nCtxTrain);
    o.Set("n_batch", m.nBatch);
    o.Set("eps", m.normEps);
    o.Set("bos", m.bos);
    o.Set("eos", m.eos);
    o.Set("addBos", m.addBos);
    o.Set("chatTemplate", m.chatTemplate.empty() ? env.Null() : Napi::String::New(env, m.chatTemplate));
    o.Set("sizeBytes", Napi::Number::New(env, double(m.sizeBytes)));
    o.Set("nParams", Napi::Number::New(env, double(m.nParams)));
    o.Set("hooksVerified", m.hooksVerified);
    Napi::Array hooks = Napi::Array::New(env, m.hooks.size());
    for (size_t i = 0; i < m.hooks.size(); ++i) hooks.Set(uint32_t(i), hookKindInfo(m.hooks[i]).name);
    o.Set("hooks", hooks);
    o.Set("finalNorm", m.finalNorm == FinalNorm::Rms ? "rms" : "layer");
    o.Set("finalLogitSoftcap", m.finalLogitSoftcap);
    o.Set("tiedOutput", m.tiedOutput);
    o.Set("threads", m.threads);
    std::string device;
    for (const std::string& e : m.rpcEndpoints) device += (device.empty() ? "rpc://" : ",rpc://") + e;
    o.Set("device", device.empty() ? "cpu" : device);
    return o;
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    release();
    return info.Env().Undefined();
  }

  std::shared_ptr<LlamaEngine> engine_;
};

}  // namespace

Napi::Function defineLlamaModelClass(Napi::Env env) { return NativeLlamaModel::Define(env); }

Napi::Value loadLlamaModel(Napi::Env env, const Options& o, Napi::FunctionReference& modelClass) {
  o.onlyKnown({"path", "device", "threads", "contextLength", "batchSize", "engine", "rpcTimeoutMs"});
  const std::string path = o.string("path");
  LlamaEngineOptions opts;
  opts.device = o.string("device", "auto");
  opts.threads = o.int32("threads", 0);
  opts.contextLength = o.int32("contextLength", 0);
  opts.batchSize = o.int32("batchSize", 512);
  Napi::FunctionReference* cls = &modelClass;
  try {
    opts.rpcTimeoutMs = rpcTimeoutOption(env, o, "loadLlamaModel");
    setNextCall(
        {parseRpcDevice(opts.device), opts.rpcTimeoutMs});  // a load from RPC servers runs guarded (rpc/failures.hpp)
  } catch (const std::invalid_argument& e) {
    throw Napi::TypeError::New(env, std::string("loadLlamaModel: ") + e.what());
  }
  return queue<std::shared_ptr<LlamaEngine>>(
      env, [path, opts]() { return std::make_shared<LlamaEngine>(path, opts); },
      [cls](Napi::Env env, std::shared_ptr<LlamaEngine>& engine) -> Napi::Value {
        Napi::Object obj = cls->New({});
        NativeLlamaModel::Unwrap(obj)->attach(std::move(engine));
        return obj;
      });
}

Napi::Value setLogLevel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string level = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (level == "quiet") setLlamaLogLevel(LogLevel::Quiet);
  else if (level == "errors") setLlamaLogLevel(LogLevel::Errors);
  else if (level == "verbose") setLlamaLogLevel(LogLevel::Verbose);
  else throw Napi::TypeError::New(env, "setLogLevel: expected 'quiet', 'errors' or 'verbose'");
  return env.Undefined();
}

}  // namespace layerlens
