// Safetensors header parsing and validation; see safetensors.hpp.
#include "safetensors.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <new>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

#include "json.hpp"

namespace layerlens {

size_t dtypeSize(DType dtype) {
  switch (dtype) {
    case DType::F64:
    case DType::I64: return 8;
    case DType::F32:
    case DType::I32: return 4;
    case DType::F16:
    case DType::BF16:
    case DType::I16: return 2;
    case DType::I8:
    case DType::U8:
    case DType::BOOL: return 1;
  }
  return 0;
}

const char* dtypeName(DType dtype) {
  switch (dtype) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::F64: return "F64";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::I16: return "I16";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
    case DType::BOOL: return "BOOL";
  }
  return "?";
}

const TensorInfo* SafetensorsHeader::find(const std::string& name) const {
  for (const TensorInfo& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

namespace {

constexpr DType kAllDTypes[] = {DType::F32, DType::F16, DType::BF16, DType::F64, DType::I64,
                                DType::I32, DType::I16, DType::I8,   DType::U8,  DType::BOOL};

// Valid in the safetensors format but not representable here; named in the
// error so the user learns the file is fine, just unsupported.
constexpr const char* kUnsupportedDTypes[] = {"U16",     "U32",     "U64",     "F8_E4M3", "F8_E5M2",
                                              "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4",      "C64"};

std::optional<DType> dtypeFromName(std::string_view s) {
  for (DType d : kAllDTypes) {
    if (s == dtypeName(d)) return d;
  }
  return std::nullopt;
}

[[noreturn]] void fail(const std::string& message) { throw SafetensorsError(message); }

// Quotes untrusted text for an error message: printable ASCII and UTF-8 pass
// through, control bytes are escaped, and very long names are cut so a hostile
// header cannot make messages arbitrarily large.
std::string quote(std::string_view s) {
  constexpr size_t kMaxShown = 120;
  static const char hex[] = "0123456789abcdef";
  std::string out = "\"";
  const size_t shown = std::min(s.size(), kMaxShown);
  for (size_t i = 0; i < shown; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  if (s.size() > shown) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

// Short description of a JSON value for error messages.
std::string describe(const JsonValue& v) {
  switch (v.type()) {
    case JsonValue::Type::Number: {
      const std::string& t = v.numberText();
      return t.size() <= 40 ? t : t.substr(0, 40) + "...";
    }
    case JsonValue::Type::String: return "string " + quote(v.asString());
    case JsonValue::Type::Bool: return v.asBool() ? "true" : "false";
    default: return JsonValue::typeName(v.type());
  }
}

// "[2, 3]"; long (hostile) shapes are cut so messages stay short.
std::string shapeString(const std::vector<uint64_t>& shape) {
  constexpr size_t kMaxDims = 16;
  std::string s = "[";
  for (size_t i = 0; i < shape.size() && i < kMaxDims; ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() > kMaxDims) s += ", ... (" + std::to_string(shape.size()) + " dims)";
  return s + "]";
}

// a * b, or nothing if it does not fit in 64 bits.
std::optional<uint64_t> checkedMul(uint64_t a, uint64_t b) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return std::nullopt;
  return a * b;
}

// JSON limits for headers. An entry needs depth 3. The value cap bounds the
// parse tree independently of the 100 MB header cap: a value costs 56-90
// bytes, up to ~3x that while a vector grows, so a hostile header peaks below
// ~200 MB. A tensor entry takes ~8 values, so this still admits ~130k tensors
// in one file (GPT-2 has ~150-600; multi-GB shards of large models a few k).
JsonLimits headerJsonLimits() {
  JsonLimits limits;
  limits.maxDepth = 64;
  limits.maxValues = size_t(1) << 20;
  return limits;
}

void parseMetadata(JsonValue& v, std::map<std::string, std::string>& out) {
  if (v.isNull()) return;  // the reference reads it as an optional map
  if (!v.isObject()) fail("__metadata__ must be an object of strings, got " + describe(v));
  std::string dup;
  if (v.hasDuplicateKeys(&dup)) fail("__metadata__ has duplicate key " + quote(dup));
  for (JsonMember& m : v.takeMembers()) {
    if (!m.value.isString()) {
      fail("__metadata__ value for key " + quote(m.key) + " must be a string, got " + describe(m.value));
    }
    // Moved, not copied: values can be as large as the header.
    out.emplace(std::move(m.key), m.value.takeString());
  }
}

TensorInfo parseTensor(std::string name, const JsonValue& entry, uint64_t dataStart, uint64_t dataSize) {
  const std::string who = "tensor " + quote(name);
  if (!entry.isObject()) fail(who + ": entry must be an object, got " + describe(entry));
  std::string dup;
  if (entry.hasDuplicateKeys(&dup)) fail(who + ": duplicate key " + quote(dup));
  // Unknown keys are ignored, as the reference implementation does.

  TensorInfo info;
  info.name = std::move(name);

  const JsonValue* dtype = entry.find("dtype");
  if (!dtype) fail(who + ": missing \"dtype\"");
  if (!dtype->isString()) fail(who + ": \"dtype\" must be a string, got " + describe(*dtype));
  const std::optional<DType> dt = dtypeFromName(dtype->asString());
  if (!dt) {
    for (const char* u : kUnsupportedDTypes) {
      if (dtype->asString() == u) fail(who + ": unsupported dtype " + quote(u));
    }
    fail(who + ": unknown dtype " + quote(dtype->asString()) +
         " (expected one of F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)");
  }
  info.dtype = *dt;

  const JsonValue* shape = entry.find("shape");
  if (!shape) fail(who + ": missing \"shape\"");
  if (!shape->isArray()) fail(who + ": \"shape\" must be an array of non-negative integers, got " + describe(*shape));
  // The shape's length is bounded by the header bytes (>= 2 bytes per element),
  // so this reserve is not driven by a number written in the file.
  info.shape.reserve(shape->items().size());
  uint64_t numel = 1;
  bool numelOverflow = false;
  for (size_t i = 0; i < shape->items().size(); ++i) {
    const JsonValue& d = shape->items()[i];
    const std::optional<uint64_t> dim = d.asUint64();
    if (!dim) {
      fail(who + ": shape[" + std::to_string(i) + "] must be a non-negative integer below 2^64, got " + describe(d));
    }
    info.shape.push_back(*dim);
    // Keep scanning after an overflow: a later 0 dimension makes the product
    // 0 and valid, exactly as with arbitrary precision.
    if (!numelOverflow) {
      const std::optional<uint64_t> next = checkedMul(numel, *dim);
      if (next) {
        numel = *next;
      } else {
        numelOverflow = true;
      }
    }
  }
  if (numelOverflow && std::find(info.shape.begin(), info.shape.end(), 0) != info.shape.end()) {
    numelOverflow = false;
    numel = 0;
  }
  if (numelOverflow) fail(who + ": element count of shape " + shapeString(info.shape) + " overflows 64 bits");
  info.numel = numel;

  const JsonValue* offsets = entry.find("data_offsets");
  if (!offsets) fail(who + ": missing \"data_offsets\"");
  if (!offsets->isArray() || offsets->items().size() != 2) {
    fail(who + ": \"data_offsets\" must be an array of two non-negative integers [begin, end], got " +
         (offsets->isArray() ? "an array of " + std::to_string(offsets->items().size()) + " values"
                             : describe(*offsets)));
  }
  const std::optional<uint64_t> begin = offsets->items()[0].asUint64();
  const std::optional<uint64_t> end = offsets->items()[1].asUint64();
  if (!begin || !end) {
    fail(who + ": \"data_offsets\" must be two non-negative integers below 2^64, got [" +
         describe(offsets->items()[0]) + ", " + describe(offsets->items()[1]) + "]");
  }
  const std::string range = "data_offsets [" + std::to_string(*begin) + ", " + std::to_string(*end) + "]";
  if (*begin > *end) fail(who + ": " + range + " has begin > end");
  if (*end > dataSize) {
    fail(who + ": " + range + " extends past the end of the data section (" + std::to_string(dataSize) +
         " bytes starting at file offset " + std::to_string(dataStart) + ")");
  }

  const size_t elemSize = dtypeSize(info.dtype);
  const std::optional<uint64_t> expected = checkedMul(numel, elemSize);
  if (!expected) {
    fail(who + ": byte size of " + std::string(dtypeName(info.dtype)) + " shape " + shapeString(info.shape) + " (" +
         std::to_string(numel) + " elements x " + std::to_string(elemSize) + " bytes) overflows 64 bits");
  }
  const uint64_t actual = *end - *begin;
  if (actual != *expected) {
    fail(who + ": " + range + " hold " + std::to_string(actual) + " bytes but " + dtypeName(info.dtype) + " shape " +
         shapeString(info.shape) + " needs " + std::to_string(*expected) + " (" + std::to_string(numel) +
         " elements x " + std::to_string(elemSize) + " bytes)");
  }

  // No overflow: end <= dataSize and dataStart + dataSize == fileSize.
  info.begin = dataStart + *begin;
  info.end = dataStart + *end;
  return info;
}

// The tensors, ordered by offset, must tile [0, dataSize) exactly.
void checkCoverage(const std::vector<TensorInfo>& tensors, uint64_t dataStart, uint64_t dataSize, uint64_t fileSize) {
  std::vector<const TensorInfo*> order;
  order.reserve(tensors.size());
  for (const TensorInfo& t : tensors) order.push_back(&t);
  // Ties on begin (empty tensors) put the empty one first so it cannot be
  // mistaken for an overlap.
  std::sort(order.begin(), order.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  auto rel = [dataStart](uint64_t abs) { return std::to_string(abs - dataStart); };
  auto span = [&](const TensorInfo* t) {
    return "tensor " + quote(t->name) + " (data_offsets [" + rel(t->begin) + ", " + rel(t->end) + "])";
  };
  uint64_t expected = dataStart;
  const TensorInfo* prev = nullptr;
  for (const TensorInfo* t : order) {
    if (t->begin < expected) {
      fail(span(t) + " overlaps " + span(prev));
    }
    if (t->begin > expected) {
      fail(span(t) + " leaves a hole of " + std::to_string(t->begin - expected) + " bytes after " +
           (prev ? span(prev) : std::string("the start of the data section")));
    }
    expected = t->end;
    prev = t;
  }
  if (expected != fileSize) {
    fail("tensors cover " + std::to_string(expected - dataStart) + " bytes but the data section holds " +
         std::to_string(dataSize) + " bytes (file size " + std::to_string(fileSize) + ", data starts at " +
         std::to_string(dataStart) + (prev ? "; last is " + span(prev) : std::string("; no tensors")) + ")");
  }
}

}  // namespace

uint64_t readHeaderLength(const uint8_t* first8, size_t n, uint64_t fileSize) {
  if (fileSize < 8)
    fail("file is too small to be safetensors: " + std::to_string(fileSize) + " bytes, need at least 8");
  if (first8 == nullptr || n < 8) fail("need the first 8 bytes of the file, got " + std::to_string(n));
  uint64_t len = 0;
  for (int i = 7; i >= 0; --i) len = (len << 8) | first8[i];  // little-endian
  if (len == 0) fail("header length is 0");
  if (len > kMaxSafetensorsHeaderLen) {
    fail("header length " + std::to_string(len) + " exceeds the " + std::to_string(kMaxSafetensorsHeaderLen) +
         "-byte limit");
  }
  if (len > fileSize - 8) {
    fail("header length " + std::to_string(len) + " runs past the end of the file (" + std::to_string(fileSize) +
         " bytes, so at most " + std::to_string(fileSize - 8) + " header bytes)");
  }
  return len;
}

SafetensorsHeader parseSafetensorsHeader(const uint8_t* json, size_t jsonLen, uint64_t fileSize) {
  const uint64_t headerLen = jsonLen;
  if (headerLen == 0) fail("header length is 0");
  if (headerLen > kMaxSafetensorsHeaderLen) {
    fail("header length " + std::to_string(headerLen) + " exceeds the " + std::to_string(kMaxSafetensorsHeaderLen) +
         "-byte limit");
  }
  if (fileSize < 8 || headerLen > fileSize - 8) {
    fail("header length " + std::to_string(headerLen) + " runs past the end of the file (" + std::to_string(fileSize) +
         " bytes)");
  }
  if (json == nullptr) fail("null header buffer");

  SafetensorsHeader header;
  header.headerLen = headerLen;
  header.dataStart = 8 + headerLen;
  const uint64_t dataSize = fileSize - header.dataStart;

  // Like the reference: the header text must open the object immediately
  // (trailing space padding is fine, leading whitespace is not).
  if (json[0] != '{') fail("header does not start with '{'");

  try {
    JsonValue root = parseJson(reinterpret_cast<const char*>(json), jsonLen, headerJsonLimits());
    if (!root.isObject()) fail("header JSON must be an object, got " + describe(root));
    std::string dup;
    if (root.hasDuplicateKeys(&dup)) {
      fail(dup == "__metadata__" ? std::string("duplicate \"__metadata__\" key")
                                 : "duplicate tensor name " + quote(dup));
    }
    // Entry count is bounded by the header bytes, not by a number in them.
    std::vector<JsonMember> members = root.takeMembers();
    header.tensors.reserve(members.size());
    for (JsonMember& m : members) {
      if (m.key == "__metadata__") {
        parseMetadata(m.value, header.metadata);
      } else {
        header.tensors.push_back(parseTensor(std::move(m.key), m.value, header.dataStart, dataSize));
      }
    }
  } catch (const JsonError& e) {
    fail("header is not valid JSON: " + e.reason() + " at header byte " + std::to_string(e.offset()) +
         " (file offset " + std::to_string(e.offset() + 8) + ")");
  } catch (const std::bad_alloc&) {
    // Memory use is proportional to the (capped) header, but a hostile one
    // can still be large; report it like any other bad file.
    fail("out of memory while parsing the " + std::to_string(headerLen) + "-byte header");
  }

  checkCoverage(header.tensors, header.dataStart, dataSize, fileSize);
  return header;
}

SafetensorsHeader parseSafetensorsPrefix(const uint8_t* prefix, size_t prefixLen, uint64_t fileSize) {
  if (prefixLen > fileSize) {
    fail("prefix of " + std::to_string(prefixLen) + " bytes is longer than the file (" + std::to_string(fileSize) +
         " bytes)");
  }
  const uint64_t headerLen = readHeaderLength(prefix, prefixLen, fileSize);
  if (prefixLen - 8 < headerLen) {
    fail("header length " + std::to_string(headerLen) + " needs " + std::to_string(8 + headerLen) + " bytes but only " +
         std::to_string(prefixLen) + " were provided");
  }
  return parseSafetensorsHeader(prefix + 8, static_cast<size_t>(headerLen), fileSize);
}

SafetensorsHeader readSafetensorsFile(const std::string& path) {
  try {
    std::error_code ec;
    const std::filesystem::file_status st = std::filesystem::status(path, ec);
    if (ec) fail("cannot access file: " + ec.message());
    if (!std::filesystem::is_regular_file(st)) fail("not a regular file");

    std::ifstream in(path, std::ios::binary);
    if (!in) fail("cannot open file for reading");
    // Size of the file actually opened (not of whatever the path names now).
    in.seekg(0, std::ios::end);
    const std::streamoff end = in.tellg();
    if (!in || end < 0) fail("cannot determine file size");
    const uint64_t fileSize = static_cast<uint64_t>(end);
    in.seekg(0, std::ios::beg);

    uint8_t first8[8] = {};
    const size_t want8 = fileSize < 8 ? static_cast<size_t>(fileSize) : 8;
    in.read(reinterpret_cast<char*>(first8), static_cast<std::streamsize>(want8));
    if (static_cast<size_t>(in.gcount()) != want8) fail("short read of the 8-byte length prefix");
    const uint64_t headerLen = readHeaderLength(first8, want8, fileSize);

    // headerLen is now known to be <= 100 MB and <= fileSize - 8.
    std::vector<uint8_t> json(static_cast<size_t>(headerLen));
    in.read(reinterpret_cast<char*>(json.data()), static_cast<std::streamsize>(headerLen));
    if (static_cast<uint64_t>(in.gcount()) != headerLen) {
      fail("short read: header is " + std::to_string(headerLen) + " bytes but only " + std::to_string(in.gcount()) +
           " could be read (file truncated while reading?)");
    }
    return parseSafetensorsHeader(json.data(), json.size(), fileSize);
  } catch (const SafetensorsError& e) {
    throw SafetensorsError(path + ": " + e.what());
  } catch (const std::bad_alloc&) {
    throw SafetensorsError(path + ": out of memory while reading the safetensors header");
  } catch (const std::exception& e) {
    // Stream/filesystem failures should not escape as foreign exception types.
    throw SafetensorsError(path + ": " + e.what());
  }
}

}  // namespace layerlens
