#!/usr/bin/env node
// `npm install` entry point: use a prebuilt addon when one fits this platform, else fetch llama.cpp and its
// ggml (scripts/install-llama-cpp.mjs) and compile the addon into build/Release/layerlens.node with
//   - CMake (cmake-js, CMakeLists.txt) when cmake is on PATH: it runs ggml's own build scripts, is the
//     build the whole test suite runs on in CI, and is the only one with the CUDA and Metal backends;
//   - node-gyp (binding.gyp) otherwise: the CPU backend only, with the same kernels and flags.
// Environment:
//   LAYERLENS_CUDA=1       build with ggml's CUDA backend (CMake only)
//   LAYERLENS_METAL=0      build without Metal on macOS
//   LAYERLENS_PORTABLE=1   do not tune the CPU kernels for this machine (x86-64-v3 baseline, as prebuilds)
//   LAYERLENS_BUILD=gyp    use node-gyp even when cmake is present (=cmake: fail rather than fall back)
//   --force                rebuild even if an addon loads
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { installLlamaCpp } from './install-llama-cpp.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const force = process.argv.includes('--force');
const flag = (name) => /^(1|on|true|yes)$/i.test(process.env[name] ?? '');
const off = (name) => /^(0|off|false|no)$/i.test(process.env[name] ?? '');
const jobs = String(availableParallelism());

function onPath(tool) {
  const exts = process.platform === 'win32' ? ['.exe', '.cmd', ''] : [''];
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir && exts.some((e) => existsSync(join(dir, tool + e))));
}

function addonLoads() {
  try {
    require('node-gyp-build')(root);
    return true;
  } catch {
    return false;
  }
}

// Which build system, and why (printed, so a user sees it in the install log).
function chooseBuild() {
  const requested = (process.env.LAYERLENS_BUILD ?? '').toLowerCase();
  if (requested && requested !== 'cmake' && requested !== 'gyp') {
    throw new Error(`LAYERLENS_BUILD must be "cmake" or "gyp" (got "${process.env.LAYERLENS_BUILD}")`);
  }
  if (flag('LAYERLENS_CUDA')) {
    if (requested === 'gyp') throw new Error('LAYERLENS_CUDA=1 needs the CMake build; unset LAYERLENS_BUILD=gyp');
    if (!onPath('cmake')) throw new Error('LAYERLENS_CUDA=1 needs CMake >= 3.18 on PATH (the node-gyp build is CPU-only)');
    return { tool: 'cmake', why: 'LAYERLENS_CUDA=1' };
  }
  if (requested === 'cmake') return { tool: 'cmake', why: 'LAYERLENS_BUILD=cmake' };
  if (requested === 'gyp') return { tool: 'gyp', why: 'LAYERLENS_BUILD=gyp' };
  if (onPath('cmake')) return { tool: 'cmake', why: 'cmake found on PATH' };
  const onMac = process.platform === 'darwin';
  return { tool: 'gyp', why: `cmake not found on PATH; install cmake for the CMake build${onMac ? ' with Metal' : ''}` };
}

function buildWithCmake() {
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const args = [cmakeJs, 'compile', '--directory', root, '--parallel', jobs];
  if (onPath('ninja')) args.push('-G', 'Ninja');
  if (flag('LAYERLENS_CUDA')) args.push('--CDLAYERLENS_CUDA=ON');
  if (process.env.LAYERLENS_CUDA_ARCH) args.push(`--CDCMAKE_CUDA_ARCHITECTURES=${process.env.LAYERLENS_CUDA_ARCH}`);
  if (off('LAYERLENS_METAL')) args.push('--CDLAYERLENS_METAL=OFF');
  if (flag('LAYERLENS_PORTABLE')) args.push('--CDLAYERLENS_NATIVE=OFF');
  execFileSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
}

// node-gyp: this checkout's own devDependency (pinned), else the one npm bundles (npm passes its path
// to install scripts as npm_config_node_gyp), else one on PATH. Users get npm's: devDependencies are
// not installed for them.
function findNodeGyp() {
  const own = join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (existsSync(own)) return { argv: [process.execPath, own], name: `node-gyp from devDependencies (${own})` };
  const npms = process.env.npm_config_node_gyp;
  if (npms && existsSync(npms)) return { argv: [process.execPath, npms], name: `npm's bundled node-gyp (${npms})` };
  if (onPath('node-gyp')) return { argv: ['node-gyp'], name: 'node-gyp from PATH' };
  throw new Error('node-gyp not found: run the install through npm (it bundles node-gyp) or install cmake');
}

// Node's own headers, when they are installed next to this node binary and match its version:
// node-gyp then needs no download from nodejs.org (it looks there by itself only when node was
// built with use_prefix_to_find_headers).
function localNodeDir() {
  const prefix = join(dirname(process.execPath), '..');
  try {
    const h = readFileSync(join(prefix, 'include', 'node', 'node_version.h'), 'utf8');
    const part = (name) => h.match(new RegExp(`#define ${name} (\\d+)`))?.[1];
    const version = `v${part('NODE_MAJOR_VERSION')}.${part('NODE_MINOR_VERSION')}.${part('NODE_PATCH_VERSION')}`;
    return version === process.version ? prefix : undefined;
  } catch {
    return undefined;
  }
}

function buildWithGyp() {
  const nodeGyp = findNodeGyp();
  console.error(`layerlens: using ${nodeGyp.name}`);
  const args = [...nodeGyp.argv.slice(1), 'rebuild', '--release', `--jobs=${jobs}`];
  const nodedir = process.env.npm_config_nodedir ? undefined : localNodeDir();
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  // binding.gyp builds the portable x86-64-v3 kernels unless told to tune for this machine.
  const native = flag('LAYERLENS_PORTABLE') ? 0 : 1;
  const gypDefines = [process.env.GYP_DEFINES, `layerlens_native=${native}`].filter(Boolean).join(' ');
  execFileSync(nodeGyp.argv[0], args, { cwd: root, stdio: 'inherit', env: { ...process.env, GYP_DEFINES: gypDefines } });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (!force && !flag('LAYERLENS_CUDA') && addonLoads()) {
    console.error('layerlens: using the existing native addon (prebuilt or built before); `npm run build:native` rebuilds it');
    process.exit(0);
  }

  let build;
  try {
    build = chooseBuild();
    installLlamaCpp();
    const what = flag('LAYERLENS_CUDA') ? 'CPU + CUDA' : 'CPU';
    console.error(
      `layerlens: building the native addon (${what}) with ${build.tool === 'gyp' ? 'node-gyp' : 'CMake'} (${build.why}); this takes a few minutes`,
    );
    if (build.tool === 'gyp') buildWithGyp();
    else buildWithCmake();
  } catch (err) {
    const needs =
      build?.tool === 'gyp'
        ? `The node-gyp build needs Python 3, make and a C++17 compiler, and Node's headers (local, or downloaded by node-gyp).
On Debian/Ubuntu: apt-get install python3 make g++ ; on macOS: xcode-select --install.`
        : `The CMake build needs CMake >= 3.18, a C++17 compiler and Node's headers (npm's nodedir or cmake-js's download).
On Debian/Ubuntu: apt-get install cmake g++ ; on macOS: xcode-select --install && brew install cmake.
Without cmake on PATH the install builds the CPU addon with node-gyp instead (LAYERLENS_BUILD=gyp forces that).`;
    console.error(`\nlayerlens: the native build failed.\n${needs}\n${err.message}`);
    process.exit(1);
  }
}
