// N-API surface of the tuned lens's translation (translate.hpp): the NativeTranslators class, made
// from JS with `new Translators({d, weights, biases?})` (see lib/model/native.ts for the JS types).
#pragma once

#include <napi.h>

namespace layerlens {

Napi::Function defineTranslatorsClass(Napi::Env env);

}  // namespace layerlens
