#!/usr/bin/env node
// What binding.gyp needs at configure time but gyp cannot do itself (it has no glob and no configure_file):
//   node scripts/native-sources.mjs            the addon's C++ sources: every native/**/*.cpp except the
//                                               standalone test and fuzz programs, which have their own main()
//   node scripts/native-sources.mjs llama      libllama's sources: vendor/llama.cpp/src/*.cpp and src/models/*.cpp
//   node scripts/native-sources.mjs version-headers <ggml version>
//                                               writes ggml-version.h and llama-version.h (what ggml's and
//                                               llama.cpp's CMake configure from their .h.in templates) into
//                                               build/generated and prints that directory
// Listing the files here keeps a new source file from being left out of the node-gyp build while
// CMakeLists.txt (and llama.cpp's own CMake) glob them.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LLAMA_CPP_SOURCE } from './install-llama-cpp.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const standalone = new Set(['native/test', 'native/fuzz']);
// Inside build/, which node-gyp owns: `node-gyp rebuild` removes it, and configure (which runs this) remakes it.
const generatedDir = 'build/generated';

function cppFiles(dir, { recursive }) {
  const found = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (recursive && !standalone.has(path)) found.push(...cppFiles(path, { recursive }));
    } else if (entry.name.endsWith('.cpp')) {
      found.push(path);
    }
  }
  return found;
}

function requireVendor(path) {
  if (!existsSync(join(root, path))) {
    throw new Error(`${path} is missing: run \`node scripts/install-llama-cpp.mjs\` (npm install does this)`);
  }
}

function llamaSources() {
  requireVendor('vendor/llama.cpp/src/llama.cpp');
  return [...cppFiles('vendor/llama.cpp/src', { recursive: false }), ...cppFiles('vendor/llama.cpp/src/models', { recursive: false })];
}

// `set(PREFIX_VERSION_MAJOR 0)` etc. from a CMakeLists.txt: the numbers its configure_file substitutes.
function cmakeVersion(cmakeLists, prefix) {
  const text = readFileSync(join(root, cmakeLists), 'utf8');
  const part = (name) => {
    const m = text.match(new RegExp(`set\\(\\s*${prefix}_VERSION_${name}\\s+(\\d+)\\s*\\)`));
    if (!m) throw new Error(`${cmakeLists}: no ${prefix}_VERSION_${name}`);
    return m[1];
  };
  return { text, base: `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}` };
}

function configureHeader(template, values) {
  return readFileSync(join(root, template), 'utf8').replace(/@(\w+)@/g, (_, name) => {
    if (!(name in values)) throw new Error(`${template}: no value for @${name}@`);
    return values[name];
  });
}

function writeIfChanged(path, text) {
  const full = join(root, path);
  if (existsSync(full) && readFileSync(full, 'utf8') === text) return; // keeps make from rebuilding on reconfigure
  writeFileSync(full, text);
}

function versionHeaders(expectedGgmlVersion) {
  requireVendor('vendor/ggml/src/ggml-version.h.in');
  requireVendor('vendor/llama.cpp/src/llama-version.h.in');
  const ggml = cmakeVersion('vendor/ggml/CMakeLists.txt', 'GGML');
  if (expectedGgmlVersion && ggml.base !== expectedGgmlVersion) {
    throw new Error(`vendor/ggml is ggml ${ggml.base}, the pinned source is ${expectedGgmlVersion}: run \`node scripts/install-llama-cpp.mjs --force\``);
  }
  const llama = cmakeVersion('vendor/llama.cpp/CMakeLists.txt', 'LLAMA');
  // llama.cpp's CMake appends -dev while its LLAMA_BUILD_IS_DEV option defaults to ON.
  const isDev = /option\(\s*LLAMA_BUILD_IS_DEV\s+"[^"]*"\s+ON\s*\)/.test(llama.text);
  // The CMake builds take the commit from `git rev-parse --short HEAD` in the source tree; the vendored
  // tree has no .git of its own, so the pinned commit is the truthful value. ggml is llama.cpp's own,
  // at the same commit (llama.cpp's CMake passes its commit to ggml the same way).
  const commit = LLAMA_CPP_SOURCE.commit.slice(0, 7);
  mkdirSync(join(root, generatedDir), { recursive: true });
  writeIfChanged(
    `${generatedDir}/ggml-version.h`,
    configureHeader('vendor/ggml/src/ggml-version.h.in', { GGML_VERSION: ggml.base, GGML_BUILD_COMMIT: commit }),
  );
  writeIfChanged(
    `${generatedDir}/llama-version.h`,
    configureHeader('vendor/llama.cpp/src/llama-version.h.in', {
      LLAMA_VERSION: isDev ? `${llama.base}-dev` : llama.base,
      LLAMA_BUILD_COMMIT: commit,
    }),
  );
  return [generatedDir];
}

const [mode = 'addon', arg] = process.argv.slice(2);
const modes = {
  addon: () => cppFiles('native', { recursive: true }),
  llama: llamaSources,
  'version-headers': () => versionHeaders(arg),
};
if (!(mode in modes)) {
  console.error(`native-sources.mjs: unknown mode "${mode}" (addon, llama or version-headers)`);
  process.exit(1);
}
try {
  process.stdout.write(modes[mode]().sort().join('\n') + '\n');
} catch (err) {
  console.error(`native-sources.mjs: ${err.message}`);
  process.exit(1);
}
