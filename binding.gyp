# node-gyp build of the CPU addon: ggml 0.23.0's CPU and RPC backends (vendor/ggml) and libllama (vendor/llama.cpp),
# both fetched by scripts/install-llama-cpp.mjs, as static libraries linked into
# build/Release/layerlens.node with native/**/*.cpp. One ggml serves both engines (GPT-2 and llama.cpp).
# It mirrors what ggml's and llama.cpp's CMake do for the CMakeLists.txt configuration (static libraries,
# GGML_OPENMP=OFF, GGML_LLAMAFILE=ON, GGML_CPU_REPACK=ON, GGML_BACKEND_DL=OFF; libllama only, no common,
# tools or tests); CUDA and Metal need the CMake build.
#
#   layerlens_native=0 (default)  x86-64: AVX/AVX2/FMA/F16C/BMI2 baseline (x86-64-v3, any x86 CPU since
#                                 ~2015), the same as CMake's LAYERLENS_NATIVE=OFF: what prebuilds ship.
#   layerlens_native=1            -march=native (x86-64) / -mcpu=native (arm64 Linux) for this machine,
#                                 like the CMake default. scripts/install.mjs sets it through GYP_DEFINES.
# Usage: `npx node-gyp rebuild` (portable), `GYP_DEFINES=layerlens_native=1 npx node-gyp rebuild`.
{
  # Three levels, because gyp evaluates a level's conditions only with the variables of the levels above.
  'variables': {
    'variables': {
      'variables': {
        'layerlens_native%': 0,
        # Fetches llama.cpp and its ggml into vendor/ when they are missing (so a bare `node-gyp rebuild`
        # works on a clean clone) and prints the pinned ggml version; at this level so it runs before the
        # source lists and version headers below read vendor/.
        'ggml_version': '<!(node scripts/install-llama-cpp.mjs --print-version)',
      },
      'layerlens_native%': '<(layerlens_native)',
      'ggml_version': '<(ggml_version)',
      'conditions': [
        # ggml's CMake passes the arch flags to ggml-cpu only; CMakeLists.txt gives native/ the same level.
        ['target_arch=="x64" and OS!="win" and layerlens_native==1', {
          'arch_cflags': ['-march=native'],
          'arch_defines': [],
        }],
        ['target_arch=="x64" and OS!="win" and layerlens_native==0', {
          'arch_cflags': ['-mf16c', '-mfma', '-mbmi2', '-mavx', '-mavx2'],
          'arch_defines': ['GGML_F16C', 'GGML_FMA', 'GGML_BMI2', 'GGML_AVX', 'GGML_AVX2'],
        }],
        ['target_arch=="x64" and OS=="win"', {
          # MSVC implies FMA/F16C with /arch:AVX2 and defines no __BMI2__: ggml's CMake defines them itself.
          'arch_cflags': ['/arch:AVX2'],
          'arch_defines': ['GGML_AVX2', 'GGML_FMA', 'GGML_F16C', '__BMI2__', 'GGML_BMI2'],
        }],
        ['target_arch=="arm64" and OS=="linux" and layerlens_native==1', {
          'arch_cflags': ['-mcpu=native'],
          'arch_defines': [],
        }],
        # arm64 portable and macOS arm64: NEON is the baseline, nothing to add.
        ['target_arch!="x64" and (target_arch!="arm64" or OS!="linux" or layerlens_native==0)', {
          'arch_cflags': [],
          'arch_defines': [],
        }],
        # POSIX feature macros ggml's src/CMakeLists.txt defines for its own targets.
        ['OS=="linux"', {'ggml_platform_defines': ['_XOPEN_SOURCE=600', '_GNU_SOURCE']}],
        ['OS=="mac"', {'ggml_platform_defines': ['_XOPEN_SOURCE=600', '_DARWIN_C_SOURCE']}],
        ['OS=="win"', {'ggml_platform_defines': ['_XOPEN_SOURCE=600', '_CRT_SECURE_NO_WARNINGS']}],
        ['OS!="linux" and OS!="mac" and OS!="win"', {'ggml_platform_defines': ['_XOPEN_SOURCE=600']}],
        # ggml's default on Apple: vDSP from Accelerate in the CPU kernels.
        ['OS=="mac"', {
          'accelerate_defines': ['GGML_USE_ACCELERATE', 'ACCELERATE_NEW_LAPACK', 'ACCELERATE_LAPACK_ILP64'],
        }, {
          'accelerate_defines': [],
        }],
      ],
    },
    'arch_cflags': ['<@(arch_cflags)'],
    'ggml_platform_defines': ['<@(ggml_platform_defines)'],
    'ggml_src': 'vendor/ggml/src',
    'ggml_include': 'vendor/ggml/include',
    'llama_src': 'vendor/llama.cpp/src',
    'llama_include': 'vendor/llama.cpp/include',
    # ggml-version.h and llama-version.h, which ggml's and llama.cpp's CMake configure from their .h.in
    # templates (versions from their CMakeLists.txt, the pinned llama.cpp commit), in build/generated.
    # Fails if vendor/ggml is not the pinned ggml version.
    'generated_include': '<!(node scripts/native-sources.mjs version-headers <(ggml_version))',
    'ggml_base_defines': [
      'GGML_SCHED_MAX_COPIES=4',
      '<@(ggml_platform_defines)',
    ],
    'ggml_cpu_include_dirs': ['vendor/ggml', 'vendor/ggml/src', 'vendor/ggml/src/ggml-cpu', 'vendor/ggml/include'],
    'ggml_cpu_defines': [
      'GGML_SCHED_MAX_COPIES=4',
      'GGML_USE_CPU_REPACK',
      'GGML_USE_LLAMAFILE',
      '<@(ggml_platform_defines)',
      '<@(arch_defines)',
      '<@(accelerate_defines)',
    ],
  },
  'target_defaults': {
    'configurations': {
      # As CMake's Release: NDEBUG, and no frame pointer (node's common.gypi keeps one for perf(1)).
      'Release': {'defines': ['NDEBUG'], 'cflags!': ['-fno-omit-frame-pointer']},
    },
    # ggml and the addon use exceptions and RTTI (node's common.gypi turns both off).
    'cflags!': ['-fno-exceptions'],
    'cflags_cc!': ['-fno-exceptions', '-fno-rtti'],
    # ggml's headers define static helpers that most of its files do not use; ggml's CMake silences these too.
    'cflags': ['-Wno-unused-function'],
    'cflags_c': ['-std=gnu11'],
    'cflags_cc': ['-std=gnu++17'],
    'xcode_settings': {
      'GCC_ENABLE_CPP_EXCEPTIONS': 'YES',
      'GCC_ENABLE_CPP_RTTI': 'YES',
      'GCC_C_LANGUAGE_STANDARD': 'gnu11',
      'CLANG_CXX_LANGUAGE_STANDARD': 'gnu++17',
      'CLANG_CXX_LIBRARY': 'libc++',
      'MACOSX_DEPLOYMENT_TARGET': '11.0',
      'GCC_OPTIMIZATION_LEVEL': '3',
    },
    'msvs_settings': {
      'VCCLCompilerTool': {
        'ExceptionHandling': 1,
        'RuntimeTypeInfo': 'true',
        'AdditionalOptions': ['/utf-8', '/std:c11', '/std:c++17', '/bigobj'],
      },
    },
  },
  # gyp names an object file after its source without the extension, so ggml.c and ggml.cpp (and
  # ggml-cpu.c and ggml-cpu.cpp) would overwrite each other inside one target: each ggml library is
  # split into its C and its C++ part.
  'targets': [
    {
      'target_name': 'ggml-base-c',
      'type': 'static_library',
      'sources': [
        '<(ggml_src)/ggml.c',
        '<(ggml_src)/ggml-alloc.c',
        '<(ggml_src)/ggml-quants.c',
      ],
      # ggml.c reports its version and commit from the generated ggml-version.h.
      'include_dirs': ['<(ggml_src)', '<(generated_include)', '<(ggml_include)'],
      'defines': ['<@(ggml_base_defines)'],
      'link_settings': {
        'conditions': [['OS!="win"', {'libraries': ['-lm']}]],
      },
    },
    {
      'target_name': 'ggml-base',
      'type': 'static_library',
      'dependencies': ['ggml-base-c'],
      'sources': [
        '<(ggml_src)/ggml.cpp',
        '<(ggml_src)/ggml-backend.cpp',
        '<(ggml_src)/ggml-backend-meta.cpp',
        '<(ggml_src)/ggml-opt.cpp',
        '<(ggml_src)/ggml-threading.cpp',
        '<(ggml_src)/gguf.cpp',
      ],
      'include_dirs': ['<(ggml_src)', '<(ggml_include)'],
      'defines': ['<@(ggml_base_defines)'],
      'direct_dependent_settings': {
        'include_dirs': ['<(ggml_include)'],
      },
    },
    {
      # ggml's RPC backend, client and server (device 'rpc://host:port', `layerlens rpc-server`), as
      # CMakeLists.txt builds it with GGML_RPC=ON: TCP only (no RDMA transport).
      'target_name': 'ggml-rpc',
      'type': 'static_library',
      'dependencies': ['ggml-base'],
      'sources': [
        '<(ggml_src)/ggml-rpc/ggml-rpc.cpp',
        '<(ggml_src)/ggml-rpc/transport.cpp',
      ],
      'include_dirs': ['<(ggml_src)', '<(ggml_include)'],
      'defines': ['<@(ggml_base_defines)'],
      'link_settings': {
        'conditions': [['OS=="win"', {'libraries': ['ws2_32.lib']}]],
      },
    },
    {
      # The backend registry: with GGML_USE_CPU it registers the CPU backend statically, with
      # GGML_USE_RPC the RPC backend (whose servers are added at run time).
      'target_name': 'ggml',
      'type': 'static_library',
      'dependencies': ['ggml-base', 'ggml-rpc'],
      'export_dependent_settings': ['ggml-base'],
      'sources': [
        '<(ggml_src)/ggml-backend-dl.cpp',
        '<(ggml_src)/ggml-backend-reg.cpp',
      ],
      'include_dirs': ['<(ggml_include)'],
      'defines': ['GGML_SCHED_MAX_COPIES=4', 'GGML_USE_CPU', 'GGML_USE_RPC', '<@(ggml_platform_defines)'],
      'direct_dependent_settings': {
        'defines': ['GGML_USE_CPU'],
      },
      'link_settings': {
        'conditions': [['OS=="linux"', {'libraries': ['-ldl']}]],
      },
    },
    {
      'target_name': 'ggml-cpu-c',
      'type': 'static_library',
      'sources': [
        '<(ggml_src)/ggml-cpu/ggml-cpu.c',
        '<(ggml_src)/ggml-cpu/quants.c',
      ],
      'include_dirs': ['<@(ggml_cpu_include_dirs)'],
      'defines': ['<@(ggml_cpu_defines)'],
      'cflags': ['<@(arch_cflags)'],
      'xcode_settings': {'OTHER_CFLAGS': ['<@(arch_cflags)']},
      'msvs_settings': {'VCCLCompilerTool': {'AdditionalOptions': ['<@(arch_cflags)']}},
      'conditions': [
        ['target_arch=="x64"', {'sources': ['<(ggml_src)/ggml-cpu/arch/x86/quants.c']}],
        ['target_arch=="arm64"', {'sources': ['<(ggml_src)/ggml-cpu/arch/arm/quants.c']}],
      ],
    },
    {
      'target_name': 'ggml-cpu',
      'type': 'static_library',
      'dependencies': ['ggml-cpu-c', 'ggml-base'],
      'sources': [
        '<(ggml_src)/ggml-cpu/ggml-cpu.cpp',
        '<(ggml_src)/ggml-cpu/repack.cpp',
        '<(ggml_src)/ggml-cpu/iqp.cpp',
        '<(ggml_src)/ggml-cpu/hbm.cpp',
        '<(ggml_src)/ggml-cpu/traits.cpp',
        '<(ggml_src)/ggml-cpu/amx/amx.cpp',
        '<(ggml_src)/ggml-cpu/amx/mmq.cpp',
        '<(ggml_src)/ggml-cpu/binary-ops.cpp',
        '<(ggml_src)/ggml-cpu/unary-ops.cpp',
        '<(ggml_src)/ggml-cpu/vec.cpp',
        '<(ggml_src)/ggml-cpu/ops.cpp',
        # tinyBLAS: several times faster than ggml's vec_dot path for f32/f16 matrices.
        '<(ggml_src)/ggml-cpu/llamafile/sgemm.cpp',
      ],
      'include_dirs': ['<@(ggml_cpu_include_dirs)'],
      'defines': ['<@(ggml_cpu_defines)'],
      'cflags': ['<@(arch_cflags)'],
      'xcode_settings': {'OTHER_CFLAGS': ['<@(arch_cflags)']},
      'msvs_settings': {'VCCLCompilerTool': {'AdditionalOptions': ['<@(arch_cflags)']}},
      # No arch/*/cpu-feats.cpp: ggml's CMake compiles it only with GGML_BACKEND_DL, where it scores
      # which of several loadable CPU backends fits the machine; here the one CPU backend is linked in.
      'conditions': [
        ['target_arch=="x64"', {'sources': ['<(ggml_src)/ggml-cpu/arch/x86/repack.cpp']}],
        ['target_arch=="arm64"', {'sources': ['<(ggml_src)/ggml-cpu/arch/arm/repack.cpp']}],
        ['OS=="mac"', {
          'link_settings': {'libraries': ['$(SDKROOT)/System/Library/Frameworks/Accelerate.framework']},
        }],
      ],
    },
    {
      # libllama as llama.cpp's src/CMakeLists.txt builds it statically: src/*.cpp and src/models/*.cpp
      # (listed by the script: gyp has no glob), C++17, no defines of its own (LLAMA_SHARED/LLAMA_BUILD
      # are for the shared library); it links the same ggml targets as the GPT-2 engine.
      # src/llama.cpp and src/models/llama.cpp share a basename: make and MSBuild keep their objects
      # apart by directory, and ar keeps both members.
      'target_name': 'llama',
      'type': 'static_library',
      'dependencies': ['ggml'],
      'export_dependent_settings': ['ggml'],
      'sources': ['<!@(node scripts/native-sources.mjs llama)'],
      'include_dirs': ['<(llama_src)', '<(generated_include)', '<(llama_include)'],
      'conditions': [['OS=="win"', {'defines': ['_CRT_SECURE_NO_WARNINGS']}]],
      'direct_dependent_settings': {
        'include_dirs': ['<(llama_include)'],
      },
    },
    {
      'target_name': 'layerlens',
      'dependencies': ['llama', 'ggml', 'ggml-cpu', 'ggml-rpc'],
      # native/**/*.cpp (native/llama/ included) without native/test and native/fuzz (standalone
      # programs with their own main()).
      'sources': ['<!@(node scripts/native-sources.mjs)'],
      # The llama.cpp engine reads the model's head (final norm, output matrix, soft-capping) from
      # libllama's internal model struct: its private headers in src/, at the pinned commit.
      'include_dirs': ['<!(node -p "require(\'node-addon-api\').include_dir")', '<(llama_src)', '<(llama_include)'],
      'defines': ['NAPI_VERSION=8', 'NAPI_CPP_EXCEPTIONS', 'NODE_ADDON_API_DISABLE_DEPRECATED'],
      # The addon's own loops (GELU, log-sum-exp, lens sums) target the same CPU level as ggml's kernels.
      # -fno-trapping-math lets the compiler turn their clamps into selects and vectorize them.
      'cflags': ['-fno-trapping-math', '<@(arch_cflags)'],
      'xcode_settings': {'OTHER_CFLAGS': ['-fno-trapping-math', '<@(arch_cflags)']},
      'msvs_settings': {'VCCLCompilerTool': {'AdditionalOptions': ['<@(arch_cflags)']}},
    },
  ],
}
