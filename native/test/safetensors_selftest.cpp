// Standalone self-test for native/io/json.cpp and native/io/safetensors.cpp.
// Build and run (from the repository root):
//   g++ -std=c++17 -O1 -g -fsanitize=address,undefined -Wall -Wextra
//       native/io/json.cpp native/io/safetensors.cpp native/test/safetensors_selftest.cpp
//       -o /tmp/st_selftest && /tmp/st_selftest
// (one command line).
// Last line of output: "N passed, M failed"; exit status is non-zero on failure.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "../io/json.hpp"
#include "../io/safetensors.hpp"

using namespace layerlens;

namespace {

int g_passed = 0;
int g_failed = 0;

void check(bool ok, const std::string& what) {
  if (ok) {
    ++g_passed;
  } else {
    ++g_failed;
    std::cout << "FAIL: " << what << "\n";
  }
}

// A whole safetensors file in memory: length prefix, header, `dataLen` bytes.
std::vector<uint8_t> makeFile(const std::string& json, size_t dataLen) {
  std::vector<uint8_t> f(8 + json.size() + dataLen, 0xAB);
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) f[i] = static_cast<uint8_t>(n >> (8 * i));
  std::copy(json.begin(), json.end(), f.begin() + 8);
  return f;
}

std::vector<uint8_t> withLength(std::vector<uint8_t> f, uint64_t n) {
  for (int i = 0; i < 8; ++i) f[i] = static_cast<uint8_t>(n >> (8 * i));
  return f;
}

SafetensorsHeader parseFile(const std::vector<uint8_t>& f) {
  return parseSafetensorsPrefix(f.data(), f.size(), f.size());
}

// Expects parsing to succeed; returns the header through `out` if given.
void expectOk(const std::string& name, const std::vector<uint8_t>& f, SafetensorsHeader* out = nullptr) {
  try {
    SafetensorsHeader h = parseFile(f);
    check(true, name);
    if (out) *out = std::move(h);
  } catch (const std::exception& e) {
    check(false, name + ": unexpected error: " + e.what());
  }
}

// Expects a SafetensorsError whose message contains every one of `needles`.
void expectError(const std::string& name, const std::function<void()>& fn, const std::vector<std::string>& needles) {
  try {
    fn();
    check(false, name + ": expected an error, got success");
  } catch (const SafetensorsError& e) {
    const std::string msg = e.what();
    bool all = true;
    for (const std::string& n : needles) {
      if (msg.find(n) == std::string::npos) {
        all = false;
        check(false, name + ": message lacks \"" + n + "\": " + msg);
      }
    }
    if (all) check(true, name);
  } catch (const std::exception& e) {
    check(false, name + ": wrong exception type: " + e.what());
  }
}

void expectFileError(const std::string& name, const std::vector<uint8_t>& f, const std::vector<std::string>& needles) {
  expectError(
      name, [&] { parseFile(f); }, needles);
}

void expectJsonError(const std::string& name, const std::string& text, const std::string& needle = "") {
  try {
    parseJson(text);
    check(false, name + ": expected JsonError, got success");
  } catch (const JsonError& e) {
    const std::string msg = e.what();
    check(msg.find("JSON error at byte") == 0 && msg.find(needle) != std::string::npos,
          name + ": unexpected message: " + msg);
  } catch (const std::exception& e) {
    check(false, name + ": wrong exception type: " + e.what());
  }
}

JsonValue jsonOk(const std::string& name, const std::string& text) {
  try {
    JsonValue v = parseJson(text);
    check(true, name);
    return v;
  } catch (const std::exception& e) {
    check(false, name + ": unexpected error: " + e.what());
    return JsonValue();
  }
}

std::string entry(const std::string& dtype, const std::string& shape, uint64_t b, uint64_t e) {
  return "{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + std::to_string(b) + "," +
         std::to_string(e) + "]}";
}

// ------------------------------------------------------------------ JSON

void testJson() {
  // Scalars and numbers.
  {
    JsonValue v = jsonOk("json: number array", "[0, 42, 18446744073709551615, -1, 1.5, 2e3, -0, 1E-2]");
    const auto& it = v.items();
    check(it.size() == 8, "json: 8 items");
    if (it.size() == 8) {
      check(it[0].asUint64() == uint64_t(0), "u64 0");
      check(it[1].asUint64() == uint64_t(42), "u64 42");
      check(it[2].asUint64() == UINT64_MAX, "u64 max");
      check(!it[3].asUint64(), "u64 rejects negative");
      check(!it[4].asUint64(), "u64 rejects fraction");
      check(!it[5].asUint64(), "u64 rejects exponent");
      check(!it[6].asUint64(), "u64 rejects -0");
      check(it[3].asDouble() == -1.0, "double -1");
      check(it[4].asDouble() == 1.5, "double 1.5");
      check(it[5].asDouble() == 2000.0, "double 2e3");
      check(std::fabs(it[7].asDouble() - 0.01) < 1e-15, "double 1E-2");
      check(it[5].numberText() == "2e3", "number text kept");
    }
  }
  {
    JsonValue v = jsonOk("json: u64 overflow parses", "18446744073709551616");
    check(v.isNumber() && !v.asUint64(), "u64 rejects 2^64");
    check(v.asDouble() == 18446744073709551616.0, "double of 2^64");
  }
  {
    JsonValue v = jsonOk("json: huge exponent", "[1e999, -1e999, 1e-999, 0.0000001e400]");
    if (v.items().size() == 4) {
      check(std::isinf(v.items()[0].asDouble()) && v.items()[0].asDouble() > 0, "1e999 -> +inf");
      check(std::isinf(v.items()[1].asDouble()) && v.items()[1].asDouble() < 0, "-1e999 -> -inf");
      check(v.items()[2].asDouble() == 0.0, "1e-999 -> 0");
      check(std::isinf(v.items()[3].asDouble()), "0.0000001e400 -> inf");
    } else {
      check(false, "huge exponent items");
    }
  }
  {
    JsonValue v = jsonOk("json: literals", " [true, false, null] ");
    check(v.items().size() == 3 && v.items()[0].asBool() && v.items()[1].isBool() && !v.items()[1].asBool() &&
              v.items()[2].isNull(),
          "json: literal values");
  }
  expectJsonError("json: leading zero", "01", "leading zero");
  expectJsonError("json: bare dot", "1.", "after '.'");
  expectJsonError("json: leading dot", ".5");
  expectJsonError("json: lone minus", "-");
  expectJsonError("json: plus sign", "+1");
  expectJsonError("json: NaN", "NaN");
  expectJsonError("json: Infinity", "[Infinity]");
  expectJsonError("json: exponent without digits", "1e+");
  expectJsonError("json: hex", "0x10", "trailing");
  expectJsonError("json: empty input", "", "end of input");
  expectJsonError("json: whitespace only", "   ", "end of input");
  expectJsonError("json: trailing comma array", "[1,]");
  expectJsonError("json: trailing comma object", "{\"a\":1,}");
  expectJsonError("json: missing colon", "{\"a\" 1}", "':'");
  expectJsonError("json: single quotes", "{'a':1}");
  expectJsonError("json: unquoted key", "{a:1}");
  expectJsonError("json: bad literal", "tru", "true");
  expectJsonError("json: trailing garbage", "{} x", "trailing");
  expectJsonError("json: two values", "1 2", "trailing");
  expectJsonError("json: trailing NUL", std::string("{}\0", 3), "trailing");
  expectJsonError("json: comment", "[1] // c", "trailing");
  expectJsonError("json: BOM", "\xEF\xBB\xBF{}");
  expectJsonError("json: unterminated string", "\"abc", "unterminated");
  expectJsonError("json: unterminated array", "[1, 2", "end of input");
  expectJsonError("json: unterminated object", "{\"a\":", "end of input");
  expectJsonError("json: control char in string", "\"a\nb\"", "control");
  expectJsonError("json: bad escape", "\"\\x\"", "escape");
  expectJsonError("json: short \\u", "\"\\u12\"");
  expectJsonError("json: bad hex", "\"\\u12G4\"", "hex");
  expectJsonError("json: lone high surrogate", "\"\\ud83d\"", "surrogate");
  expectJsonError("json: high + non-low surrogate", "\"\\ud83d\\u0041\"", "surrogate");
  expectJsonError("json: lone low surrogate", "\"\\ude00\"", "surrogate");
  expectJsonError("json: invalid UTF-8 byte", "\"\xff\"", "UTF-8");
  expectJsonError("json: overlong UTF-8", "\"\xC0\xAF\"", "UTF-8");
  expectJsonError("json: UTF-8 surrogate", "\"\xED\xA0\x80\"", "UTF-8");
  expectJsonError("json: truncated UTF-8", "\"\xE2\x82\"", "UTF-8");
  expectJsonError("json: UTF-8 above U+10FFFF", "\"\xF4\x90\x80\x80\"", "UTF-8");
  expectJsonError("json: raw UTF-8 outside string", "\xC3\xA9");

  // Escapes decode to UTF-8.
  {
    JsonValue v = jsonOk("json: escapes", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20AC\\ud83d\\ude00\\u0000z\"");
    const std::string want = std::string("\"\\/\b\f\n\r\tA\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80") + '\0' + "z";
    check(v.asString() == want, "json: escape decoding");
  }
  {
    JsonValue v = jsonOk("json: raw UTF-8 in string", "\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"");
    check(v.asString() == "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", "json: raw UTF-8 kept");
  }

  // Objects: order, lookup, duplicates.
  {
    JsonValue v = jsonOk("json: object", "{\"b\":1,\"a\":{\"x\":[]},\"c\":\"s\"}");
    check(v.isObject() && v.members().size() == 3, "json: 3 members");
    if (v.members().size() == 3) {
      check(v.members()[0].key == "b" && v.members()[1].key == "a" && v.members()[2].key == "c", "json: key order");
    }
    check(v.find("a") && v.find("a")->isObject() && v.find("a")->find("x")->isArray(), "json: nested find");
    check(v.find("zz") == nullptr, "json: find missing");
    check(!v.hasDuplicateKeys(), "json: no duplicates");
    check(v.items().empty() && v.asString().empty() && !v.asUint64(), "json: wrong-type accessors are neutral");
  }
  {
    JsonValue v = jsonOk("json: duplicate keys parse", "{\"k\":1,\"j\":2,\"k\":3}");
    std::string dup;
    check(v.hasDuplicateKeys(&dup) && dup == "k", "json: duplicate detected");
    check(v.find("k") && v.find("k")->asUint64() == uint64_t(1), "json: find returns first");
  }

  // Copies are deep; take*() moves contents out.
  {
    JsonValue v = jsonOk("json: copy source", "{\"a\":[1,{\"b\":\"s\"}],\"c\":\"long string beyond SSO size\"}");
    JsonValue copy = v;
    JsonValue assigned;
    assigned = v;
    std::vector<JsonMember> taken = v.takeMembers();
    check(v.isObject() && v.members().empty() && taken.size() == 2, "json: takeMembers empties the object");
    for (const JsonValue* c : {&copy, &assigned}) {
      const JsonValue* a = c->find("a");
      check(a && a->items().size() == 2 && a->items()[1].find("b") && a->items()[1].find("b")->asString() == "s",
            "json: deep copy");
    }
    check(taken.size() == 2 && taken[1].value.takeString() == "long string beyond SSO size" &&
              taken[1].value.asString().empty(),
          "json: takeString");
    check(taken[0].value.takeItems().size() == 2 && taken[0].value.items().empty(), "json: takeItems");
    check(taken[0].value.takeString().empty(), "json: takeString on non-string is empty");
    copy = copy.items().empty() ? copy : JsonValue();  // self-referential assignment paths stay valid
    JsonValue& self = assigned;
    assigned = self;
    check(assigned.find("c") != nullptr, "json: self-assignment keeps value");
  }

  // Limits.
  {
    const std::string ok64 = std::string(64, '[') + std::string(64, ']');
    jsonOk("json: depth 64 accepted", ok64);
    expectJsonError("json: depth 65 rejected", std::string(65, '[') + std::string(65, ']'), "nesting");
    expectJsonError("json: depth bomb", std::string(1000000, '['), "nesting");
    std::string objBomb;
    for (int i = 0; i < 100000; ++i) objBomb += "{\"a\":";
    expectJsonError("json: object depth bomb", objBomb, "nesting");
    JsonLimits small;
    small.maxValues = 10;
    try {
      parseJson("[1,2,3,4,5,6,7,8,9,10]", small);
      check(false, "json: value limit");
    } catch (const JsonError& e) {
      check(std::string(e.what()).find("more than 10 values") != std::string::npos, "json: value limit message");
    }
  }
  {
    try {
      parseJson("[1, x]");
      check(false, "json: offset");
    } catch (const JsonError& e) {
      check(e.offset() == 4, "json: error offset is 4, got " + std::to_string(e.offset()));
    }
  }
}

// ------------------------------------------------------------ safetensors

void testGood() {
  const std::string json =
      "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"h\\u00e9\"},\"wte\":" + entry("F32", "[2,3]", 0, 24) +
      ",\"ln.bias\":" + entry("F16", "[4]", 24, 32) + "}";
  SafetensorsHeader h;
  expectOk("good file", makeFile(json, 32), &h);
  const uint64_t ds = 8 + json.size();
  check(h.headerLen == json.size() && h.dataStart == ds, "good: header length and data start");
  check(h.tensors.size() == 2, "good: 2 tensors");
  const TensorInfo* wte = h.find("wte");
  check(wte && wte->dtype == DType::F32 && wte->shape == std::vector<uint64_t>{2, 3} && wte->numel == 6 &&
            wte->begin == ds && wte->end == ds + 24 && wte->byteSize() == 24,
        "good: wte fields");
  const TensorInfo* lnb = h.find("ln.bias");
  check(lnb && lnb->dtype == DType::F16 && lnb->numel == 4 && lnb->begin == ds + 24 && lnb->end == ds + 32,
        "good: ln.bias fields");
  check(h.find("missing") == nullptr, "good: find missing");
  check(h.tensors.size() == 2 && h.tensors[0].name == "wte", "good: document order kept");
  check(h.metadata.size() == 2 && h.metadata["format"] == "pt" && h.metadata["note"] == "h\xC3\xA9", "good: metadata");

  // Trailing-space padding (writers align the data section to 8 bytes).
  SafetensorsHeader hp;
  expectOk("padded header", makeFile(json + "       ", 32), &hp);
  check(hp.headerLen == json.size() + 7 && hp.tensors.size() == 2, "padded: lengths");

  // Listed out of order but contiguous once sorted by offset.
  expectOk("out-of-order listing",
           makeFile("{\"b\":" + entry("U8", "[8]", 8, 16) + ",\"a\":" + entry("U8", "[8]", 0, 8) + "}", 16));
  // Empty file body, scalars, zero-size tensors, every dtype.
  expectOk("empty header", makeFile("{}", 0));
  SafetensorsHeader hs;
  expectOk("scalar and empty tensors",
           makeFile("{\"s\":" + entry("F64", "[]", 0, 8) + ",\"z\":" + entry("F32", "[0,5]", 8, 8) +
                        ",\"z2\":" + entry("I8", "[0]", 8, 8) + ",\"t\":" + entry("BOOL", "[3]", 8, 11) + "}",
                    11),
           &hs);
  check(hs.find("s") && hs.find("s")->numel == 1 && hs.find("s")->shape.empty(), "scalar numel 1");
  check(hs.find("z") && hs.find("z")->numel == 0 && hs.find("z")->byteSize() == 0, "empty tensor numel 0");
  expectOk("empty tensor at the very end",
           makeFile("{\"a\":" + entry("U8", "[1]", 0, 1) + ",\"z\":" + entry("U8", "[0]", 1, 1) + "}", 1));
  expectOk("overflowing shape with a zero dim is empty",
           makeFile("{\"z\":" + entry("F32", "[4294967296,4294967296,4294967296,0]", 0, 0) + "}", 0));
  {
    std::string all = "{";
    uint64_t off = 0;
    const char* names[] = {"F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"};
    const size_t sizes[] = {4, 2, 2, 8, 8, 4, 2, 1, 1, 1};
    for (int i = 0; i < 10; ++i) {
      if (i) all += ",";
      all += "\"t" + std::to_string(i) + "\":" + entry(names[i], "[3]", off, off + 3 * sizes[i]);
      off += 3 * sizes[i];
    }
    all += "}";
    SafetensorsHeader ha;
    expectOk("all dtypes", makeFile(all, off), &ha);
    bool okAll = ha.tensors.size() == 10;
    for (size_t i = 0; okAll && i < 10; ++i) {
      okAll = std::string(dtypeName(ha.tensors[i].dtype)) == names[i] && dtypeSize(ha.tensors[i].dtype) == sizes[i];
    }
    check(okAll, "all dtypes: names and sizes");
  }
  expectOk("unicode tensor name", makeFile("{\"\\u00e9\\ud83d\\ude00\":" + entry("U8", "[1]", 0, 1) + "}", 1));
  {
    SafetensorsHeader hu;
    expectOk("unicode name lookup", makeFile("{\"\\u00e9\\ud83d\\ude00\":" + entry("U8", "[1]", 0, 1) + "}", 1), &hu);
    check(hu.find("\xC3\xA9\xF0\x9F\x98\x80") != nullptr, "unicode name decoded");
  }
  expectOk("unknown keys in entry ignored",
           makeFile("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2],\"extra\":[{}]}}", 2));
  expectOk("metadata null", makeFile("{\"__metadata__\":null}", 0));
  expectOk("metadata empty", makeFile("{\"__metadata__\":{}}", 0));
}

void testLengthPrefix() {
  const std::vector<uint8_t> good = makeFile("{}", 0);
  expectError("file shorter than 8 bytes", [&] { parseSafetensorsPrefix(good.data(), 5, 5); },
              {"too small", "5 bytes"});
  expectError("fewer than 8 bytes given", [&] { readHeaderLength(good.data(), 4, 100); }, {"first 8 bytes", "got 4"});
  expectError("null first8", [&] { readHeaderLength(nullptr, 8, 100); }, {"first 8 bytes"});
  expectFileError("length 0", withLength(good, 0), {"header length is 0"});
  expectFileError("length 2^63", withLength(good, uint64_t(1) << 63), {"9223372036854775808", "limit"});
  expectFileError("length 2^64-1", withLength(good, UINT64_MAX), {"18446744073709551615", "limit"});
  expectFileError("length 100000001", withLength(good, 100000001), {"100000001", "limit"});
  expectFileError("length past end of file", withLength(good, 3), {"header length 3", "past the end", "10 bytes"});
  expectError("prefix shorter than header", [&] { parseSafetensorsPrefix(good.data(), 9, 1000); }, {"only 9"});
  expectError("prefix longer than file", [&] { parseSafetensorsPrefix(good.data(), good.size(), 3); }, {"longer"});
  check(readHeaderLength(good.data(), 8, good.size()) == 2, "readHeaderLength of good file");
  {
    // 100 MB exactly is allowed by readHeaderLength when the file is large enough.
    std::vector<uint8_t> f8 = withLength(std::vector<uint8_t>(8), 100000000);
    check(readHeaderLength(f8.data(), 8, 100000008) == 100000000, "100 MB header length accepted");
  }
  expectError("parseSafetensorsHeader length > file",
              [&] { parseSafetensorsHeader(reinterpret_cast<const uint8_t*>("{}"), 2, 9); }, {"past the end"});
  expectError("parseSafetensorsHeader length 0",
              [&] { parseSafetensorsHeader(reinterpret_cast<const uint8_t*>(""), 0, 9); }, {"length is 0"});
}

void testMalformed() {
  expectFileError("non-JSON", makeFile("hello", 0), {"start with '{'"});
  expectFileError("JSON array", makeFile("[]", 0), {"start with '{'"});
  expectFileError("leading space", makeFile(" {}", 0), {"start with '{'"});
  expectFileError("broken JSON", makeFile("{\"a\": {\"dtype\": \"F32\",", 0), {"not valid JSON", "header byte"});
  expectFileError("trailing garbage", makeFile("{} x", 0), {"not valid JSON", "trailing"});
  expectFileError("NUL padding", makeFile(std::string("{}\0\0", 4), 0), {"not valid JSON"});
  expectFileError("invalid UTF-8 name", makeFile("{\"\xff\":" + entry("U8", "[1]", 0, 1) + "}", 1), {"UTF-8"});
  expectFileError("lone surrogate name", makeFile("{\"\\ud800\":" + entry("U8", "[1]", 0, 1) + "}", 1), {"surrogate"});
  {
    std::string bomb = "{\"a\":" + std::string(5000, '[') + std::string(5000, ']') + "}";
    expectFileError("nested depth bomb", makeFile(bomb, 0), {"nesting"});
  }
  expectFileError("entry not an object", makeFile("{\"a\":5}", 0), {"tensor \"a\"", "must be an object", "5"});
  expectFileError("entry is an array", makeFile("{\"a\":[1]}", 0), {"tensor \"a\"", "array"});
  expectFileError("duplicate names",
                  makeFile("{\"w\":" + entry("U8", "[1]", 0, 1) + ",\"w\":" + entry("U8", "[1]", 1, 2) + "}", 2),
                  {"duplicate tensor name \"w\""});
  expectFileError("duplicate __metadata__", makeFile("{\"__metadata__\":{},\"__metadata__\":{}}", 0),
                  {"duplicate \"__metadata__\""});
  expectFileError("duplicate key in entry",
                  makeFile("{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1),
                  {"tensor \"a\"", "duplicate key \"dtype\""});

  // dtype
  expectFileError("missing dtype", makeFile("{\"a\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1),
                  {"tensor \"a\"", "missing \"dtype\""});
  expectFileError("dtype not a string", makeFile("{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
                  {"tensor \"a\"", "must be a string"});
  expectFileError("unknown dtype", makeFile("{\"a\":" + entry("Q7", "[1]", 0, 1) + "}", 1),
                  {"tensor \"a\"", "unknown dtype \"Q7\""});
  expectFileError("lowercase dtype", makeFile("{\"a\":" + entry("f32", "[1]", 0, 4) + "}", 4), {"unknown dtype"});
  expectFileError("unsupported dtype", makeFile("{\"a\":" + entry("U32", "[1]", 0, 4) + "}", 4),
                  {"tensor \"a\"", "unsupported dtype \"U32\""});

  // shape
  expectFileError("missing shape", makeFile("{\"a\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1),
                  {"tensor \"a\"", "missing \"shape\""});
  expectFileError("shape not array", makeFile("{\"a\":" + entry("U8", "3", 0, 3) + "}", 3),
                  {"tensor \"a\"", "\"shape\""});
  expectFileError("negative dim", makeFile("{\"a\":" + entry("U8", "[-1]", 0, 0) + "}", 0), {"shape[0]", "-1"});
  expectFileError("fractional dim", makeFile("{\"a\":" + entry("U8", "[2,1.5]", 0, 3) + "}", 3), {"shape[1]", "1.5"});
  expectFileError("exponent dim", makeFile("{\"a\":" + entry("U8", "[1e1]", 0, 10) + "}", 10), {"shape[0]", "1e1"});
  expectFileError("string dim", makeFile("{\"a\":" + entry("U8", "[\"2\"]", 0, 2) + "}", 2), {"shape[0]", "string"});
  expectFileError("dim above 2^64", makeFile("{\"a\":" + entry("U8", "[18446744073709551616]", 0, 1) + "}", 1),
                  {"shape[0]"});
  expectFileError("shape overflow [2^32]^3",
                  makeFile("{\"a\":" + entry("F32", "[4294967296,4294967296,4294967296]", 0, 4) + "}", 4),
                  {"tensor \"a\"", "[4294967296, 4294967296, 4294967296]", "overflows"});
  {
    std::string dims = "[2";
    for (int i = 0; i < 200; ++i) dims += ",4294967296";
    expectFileError("long overflowing shape is cut in the message",
                    makeFile("{\"a\":" + entry("F32", dims + "]", 0, 4) + "}", 4), {"... (201 dims)]", "overflows"});
  }
  expectFileError("byte size overflow", makeFile("{\"a\":" + entry("F32", "[4611686018427387904]", 0, 4) + "}", 4),
                  {"tensor \"a\"", "4611686018427387904 elements x 4 bytes", "overflows"});

  // data_offsets
  expectFileError("missing data_offsets", makeFile("{\"a\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1),
                  {"missing \"data_offsets\""});
  expectFileError("data_offsets of 3", makeFile("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 1),
                  {"tensor \"a\"", "3 values"});
  expectFileError("data_offsets object", makeFile("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":{}}}", 1),
                  {"object"});
  expectFileError("data_offsets strings",
                  makeFile("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[\"0\",1]}}", 1), {"string \"0\""});
  expectFileError("data_offsets negative",
                  makeFile("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[-1,0]}}", 1), {"-1"});
  expectFileError("begin > end", makeFile("{\"a\":" + entry("U8", "[0]", 4, 2) + "}", 4),
                  {"tensor \"a\"", "[4, 2]", "begin > end"});
  expectFileError("size mismatch", makeFile("{\"a\":" + entry("F32", "[3]", 0, 8) + "}", 8),
                  {"tensor \"a\"", "hold 8 bytes", "needs 12", "3 elements x 4 bytes"});
  expectFileError("out-of-file offsets", makeFile("{\"a\":" + entry("U8", "[8]", 0, 8) + "}", 4),
                  {"tensor \"a\"", "[0, 8]", "past the end", "4 bytes"});
  expectFileError("offsets near 2^64",
                  makeFile("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[18446744073709551614,"
                           "18446744073709551615]}}",
                           1),
                  {"past the end"});
  expectFileError("overlap",
                  makeFile("{\"a\":" + entry("U8", "[8]", 0, 8) + ",\"b\":" + entry("U8", "[8]", 4, 12) + "}", 12),
                  {"tensor \"b\"", "overlaps", "tensor \"a\""});
  expectFileError("out-of-order overlap",
                  makeFile("{\"b\":" + entry("U8", "[8]", 4, 12) + ",\"a\":" + entry("U8", "[8]", 0, 8) + "}", 12),
                  {"tensor \"b\"", "overlaps", "tensor \"a\""});
  expectFileError("identical ranges",
                  makeFile("{\"a\":" + entry("U8", "[8]", 0, 8) + ",\"b\":" + entry("U8", "[8]", 0, 8) + "}", 8),
                  {"overlaps"});
  expectFileError("empty tensor inside another",
                  makeFile("{\"a\":" + entry("U8", "[8]", 0, 8) + ",\"z\":" + entry("U8", "[0]", 4, 4) + "}", 8),
                  {"tensor \"z\"", "overlaps"});
  expectFileError("hole",
                  makeFile("{\"a\":" + entry("U8", "[8]", 0, 8) + ",\"b\":" + entry("U8", "[8]", 12, 20) + "}", 20),
                  {"tensor \"b\"", "hole of 4 bytes", "tensor \"a\""});
  expectFileError("not starting at 0", makeFile("{\"a\":" + entry("U8", "[4]", 4, 8) + "}", 8),
                  {"hole of 4 bytes", "start of the data section"});
  expectFileError("trailing data", makeFile("{\"a\":" + entry("U8", "[4]", 0, 4) + "}", 6),
                  {"cover 4 bytes", "holds 6"});
  expectFileError("data but no tensors", makeFile("{}", 3), {"cover 0 bytes", "holds 3"});

  // metadata
  expectFileError("metadata not object", makeFile("{\"__metadata__\":[1]}", 0), {"__metadata__", "array"});
  expectFileError("metadata number value", makeFile("{\"__metadata__\":{\"k\":1}}", 0), {"\"k\"", "must be a string"});
  expectFileError("metadata nested", makeFile("{\"__metadata__\":{\"k\":{}}}", 0), {"\"k\"", "object"});
  expectFileError("metadata duplicate key", makeFile("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0),
                  {"duplicate key \"k\""});

  // The parse tree is capped (memory stays bounded for a hostile 100 MB header).
  {
    std::string many = "{\"a\":[0";
    for (int i = 0; i < (1 << 20); ++i) many += ",0";
    many += "]}";
    expectFileError("JSON value cap", makeFile(many, 0), {"more than 1048576 values"});
  }

  // Hostile names are quoted and truncated in messages.
  {
    const std::string longName(5000, 'x');
    try {
      parseFile(makeFile("{\"" + longName + "\\n\":5}", 0));
      check(false, "long name: expected error");
    } catch (const SafetensorsError& e) {
      const std::string msg = e.what();
      check(msg.size() < 400 && msg.find("5001 bytes") != std::string::npos,
            "long name truncated: " + msg.substr(0, 200));
    }
  }
}

void testFiles() {
  const std::string dir = "/tmp";
  const std::string goodPath = dir + "/layerlens_selftest_good.safetensors";
  const std::string badPath = dir + "/layerlens_selftest_bad.safetensors";
  const std::string json = "{\"w\":" + entry("F32", "[2]", 0, 8) + "}";
  {
    std::vector<uint8_t> f = makeFile(json, 8);
    std::ofstream(goodPath, std::ios::binary).write(reinterpret_cast<const char*>(f.data()), f.size());
    std::vector<uint8_t> b = makeFile(json, 4);
    std::ofstream(badPath, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), b.size());
  }
  try {
    SafetensorsHeader h = readSafetensorsFile(goodPath);
    check(h.tensors.size() == 1 && h.find("w") && h.find("w")->begin == 8 + json.size(), "readSafetensorsFile good");
  } catch (const std::exception& e) {
    check(false, std::string("readSafetensorsFile good: ") + e.what());
  }
  expectError("readSafetensorsFile bad", [&] { readSafetensorsFile(badPath); }, {badPath + ": ", "tensor \"w\""});
  expectError("readSafetensorsFile missing", [&] { readSafetensorsFile(dir + "/layerlens_no_such_file.safetensors"); },
              {"layerlens_no_such_file.safetensors: "});
  expectError("readSafetensorsFile directory", [&] { readSafetensorsFile(dir); }, {dir + ": ", "not a regular file"});
  {
    // Header length claims more than the file has: must fail before reading/allocating it.
    std::vector<uint8_t> f = withLength(makeFile("{}", 0), 99999999);
    std::ofstream(badPath, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(f.data()), f.size());
    expectError("readSafetensorsFile lying length", [&] { readSafetensorsFile(badPath); }, {badPath, "past the end"});
  }
  std::remove(goodPath.c_str());
  std::remove(badPath.c_str());
}

}  // namespace

int main() {
  testJson();
  testGood();
  testLengthPrefix();
  testMalformed();
  testFiles();
  std::cout << g_passed << " passed, " << g_failed << " failed" << std::endl;
  return g_failed == 0 ? 0 : 1;
}
