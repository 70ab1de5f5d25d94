#!/usr/bin/env node
// `npm install` entry point: use a prebuilt addon when one fits this platform, else
// fetch ggml (scripts/install-ggml.mjs) and compile the addon with cmake-js.
//   LAYERLENS_CUDA=1   build with ggml's CUDA backend
//   LAYERLENS_METAL=0  build without Metal on macOS
//   LAYERLENS_PORTABLE=1  do not tune the CPU kernels for this machine (for prebuilds)
//   --force            rebuild even if an addon loads
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { installGgml } from './install-ggml.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const force = process.argv.includes('--force');
const flag = (name) => /^(1|on|true|yes)$/i.test(process.env[name] ?? '');
const off = (name) => /^(0|off|false|no)$/i.test(process.env[name] ?? '');

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

if (!force && !flag('LAYERLENS_CUDA') && addonLoads()) {
  console.error('layerlens: using the existing native addon (prebuilt or built before); `npm run build:native` rebuilds it');
  process.exit(0);
}

try {
  installGgml();
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const args = [cmakeJs, 'compile', '--directory', root, '--parallel', String(availableParallelism())];
  if (onPath('ninja')) args.push('-G', 'Ninja');
  if (flag('LAYERLENS_CUDA')) args.push('--CDLAYERLENS_CUDA=ON');
  if (process.env.LAYERLENS_CUDA_ARCH) args.push(`--CDCMAKE_CUDA_ARCHITECTURES=${process.env.LAYERLENS_CUDA_ARCH}`);
  if (off('LAYERLENS_METAL')) args.push('--CDLAYERLENS_METAL=OFF');
  if (flag('LAYERLENS_PORTABLE')) args.push('--CDLAYERLENS_NATIVE=OFF');
  console.error(`layerlens: building the native addon (${flag('LAYERLENS_CUDA') ? 'CPU + CUDA' : 'CPU'}); this takes a minute`);
  execFileSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
} catch (err) {
  console.error(`\nlayerlens: the native build failed.
It needs CMake >= 3.18, a C++17 compiler and Node's headers (npm's nodedir or cmake-js's download).
On Debian/Ubuntu: apt-get install cmake g++ ; on macOS: xcode-select --install && brew install cmake.
${err.message}`);
  process.exit(1);
}
