#!/usr/bin/env bash
# Builds the libFuzzer harness for the safetensors header parser and runs it.
#   scripts/fuzz-safetensors.sh [SECONDS]     (default 60)
# Needs clang++ with libFuzzer (Debian/Ubuntu: the "clang" package); installs
# nothing. CXX overrides the compiler. Crash/leak/timeout inputs are kept in
# test-output/fuzz-safetensors/ (git-ignored); the corpus lives in a temp dir.
set -euo pipefail

DURATION="${1:-60}"
case "$DURATION" in
  ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CXX="${CXX:-clang++}"
if ! command -v "$CXX" >/dev/null 2>&1; then
  echo "fuzz-safetensors: '$CXX' not found. libFuzzer needs clang++ (e.g. 'apt-get install clang'," >&2
  echo "or set CXX to a clang++ binary). Nothing was built." >&2
  exit 2
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/layerlens-fuzz.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
ARTIFACTS="$ROOT/test-output/fuzz-safetensors"
mkdir -p "$ARTIFACTS" "$WORK/corpus"

echo "fuzz-safetensors: building with $CXX"
"$CXX" -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  "$ROOT/native/io/json.cpp" "$ROOT/native/io/safetensors.cpp" "$ROOT/native/fuzz/safetensors_fuzz.cpp" \
  -o "$WORK/safetensors_fuzz"

# ---- seed corpus: small valid and near-valid files ----
export LC_ALL=C  # ${#json} must count bytes
seed_n=0
# seed JSON DATA_LEN [DECLARED_LEN]: 8-byte LE length, the JSON, DATA_LEN zero bytes.
seed() {
  local json="$1" datalen="$2" n="${3:-${#1}}" le="" i
  for ((i = 0; i < 8; i++)); do le+="\\x$(printf '%02x' $(((n >> (8 * i)) & 255)))"; done
  seed_n=$((seed_n + 1))
  {
    printf '%b' "$le"
    printf '%s' "$json"
    head -c "$datalen" /dev/zero
  } >"$WORK/corpus/seed$seed_n"
}
e() { printf '{"dtype":"%s","shape":%s,"data_offsets":[%s,%s]}' "$1" "$2" "$3" "$4"; }

seed '{}' 0
seed '{"__metadata__":{"format":"pt"}}' 0
seed "{\"wte\":$(e F32 '[2,3]' 0 24),\"ln_f.bias\":$(e F16 '[4]' 24 32)}" 32
seed "{\"__metadata__\":{\"format\":\"pt\"},\"a\":$(e BF16 '[2,2]' 0 8)}        " 8
seed "{\"b\":$(e U8 '[8]' 8 16),\"a\":$(e I8 '[8]' 0 8),\"z\":$(e BOOL '[0]' 16 16)}" 16
seed "{\"s\":$(e F64 '[]' 0 8),\"t\":$(e I64 '[1]' 8 16),\"u\":$(e I32 '[1]' 16 20),\"v\":$(e I16 '[1]' 20 22)}" 22
seed "{\"\\u00e9\\ud83d\\ude00\":$(e U8 '[1]' 0 1)}" 1
seed "{\"a\":$(e F32 '[4294967296,4294967296,4294967296]' 0 4)}" 4
seed "{\"a\":$(e U8 '[8]' 0 8),\"b\":$(e U8 '[8]' 4 12)}" 12
seed "{\"a\":$(e U8 '[8]' 0 8),\"a\":$(e U8 '[8]' 8 16)}" 16
seed "{\"a\":$(e F32 '[3]' 0 8)}" 8
seed '{"a":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}' 0
seed '{"a":[0,-1,1.5e10,true,false,null,"\"\\/\b\f\n\r\t"]}' 0
seed '{}' 0 18446744073709551615

# ---- dictionary of format tokens ----
cat >"$WORK/safetensors.dict" <<'DICT'
"{"
"}"
"["
"]"
":"
","
"\""
"\"dtype\""
"\"shape\""
"\"data_offsets\""
"\"__metadata__\""
"\"F32\""
"\"F16\""
"\"BF16\""
"\"F64\""
"\"I64\""
"\"I32\""
"\"I16\""
"\"I8\""
"\"U8\""
"\"BOOL\""
"\"U32\""
"true"
"false"
"null"
"\\u"
"\\ud83d\\ude00"
"18446744073709551615"
"4294967296"
"1e999"
"-0"
DICT

echo "fuzz-safetensors: $seed_n seeds; running for ${DURATION}s; findings go to $ARTIFACTS/"
cd "$WORK"
"$WORK/safetensors_fuzz" "$WORK/corpus" \
  -dict="$WORK/safetensors.dict" \
  -max_total_time="$DURATION" \
  -max_len=8192 \
  -timeout=10 \
  -rss_limit_mb=2048 \
  -print_final_stats=1 \
  -artifact_prefix="$ARTIFACTS/"
