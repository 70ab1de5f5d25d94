#!/usr/bin/env node
// Fills vendor/llama.cpp and vendor/ggml with the llama.cpp source tree that a pinned npm package
// carries as a git bundle. llama.cpp and its ggml are third-party code: fetched at install time,
// checked against a pinned integrity hash and commit, and never committed (vendor/ is gitignored).
// vendor/ggml is llama.cpp's own ggml, moved out of the tree: the addon links ONE ggml, shared by the
// GPT-2 engine and libllama (llama.cpp's CMakeLists uses a parent project's ggml target when there is one).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LLAMA_CPP_SOURCE = {
  package: 'node-llama-cpp',
  version: '3.21.1',
  // sha512 of the package tarball as published on the npm registry.
  integrity: 'sha512-E3N0Ev2Va0wzydvXYFwM9Hvyo07PoWjt8T/9GMc43Cvt8YkV/NU/tYUgEMC1grTPv2o9PRjQi0G3Wb5P/awiMg==',
  bundleInTarball: 'package/llama/gitRelease.bundle',
  commit: '80fb11ac73e66d89eae2c6a91d8a77428fa733ed',
  ggmlVersion: '0.23.0',
};

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const llamaDir = join(root, 'vendor', 'llama.cpp');
const ggmlDir = join(root, 'vendor', 'ggml');
const stampFile = join(llamaDir, '.layerlens-source.json');

function stampMatches() {
  if (!existsSync(stampFile)) return false;
  try {
    const stamp = JSON.parse(readFileSync(stampFile, 'utf8'));
    return (
      stamp.integrity === LLAMA_CPP_SOURCE.integrity &&
      stamp.commit === LLAMA_CPP_SOURCE.commit &&
      existsSync(join(llamaDir, 'src', 'llama.cpp')) &&
      existsSync(join(ggmlDir, 'CMakeLists.txt'))
    );
  } catch {
    return false;
  }
}

function integrityOf(file) {
  return 'sha512-' + createHash('sha512').update(readFileSync(file)).digest('base64');
}

function run(cmd, args, cwd) {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], shell: process.platform === 'win32' });
}

function moveDir(from, to) {
  rmSync(to, { recursive: true, force: true });
  mkdirSync(dirname(to), { recursive: true });
  try {
    renameSync(from, to);
  } catch {
    cpSync(from, to, { recursive: true });
    rmSync(from, { recursive: true, force: true });
  }
}

export function installLlamaCpp({ force = false, log = console.error } = {}) {
  if (!force && stampMatches()) return { llamaDir, ggmlDir };
  const work = mkdtempSync(join(tmpdir(), 'layerlens-llama-'));
  try {
    const spec = `${LLAMA_CPP_SOURCE.package}@${LLAMA_CPP_SOURCE.version}`;
    log(`layerlens: fetching llama.cpp ${LLAMA_CPP_SOURCE.commit.slice(0, 7)} (ggml ${LLAMA_CPP_SOURCE.ggmlVersion}) from the npm package ${spec}`);
    let out;
    try {
      out = run(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['pack', spec, '--silent', '--pack-destination', work], work);
    } catch (err) {
      throw new Error(`layerlens: could not download ${spec} from the npm registry (needed for the llama.cpp and ggml sources): ${err.message}`, {
        cause: err,
      });
    }
    const tarball = join(work, out.trim().split('\n').pop());
    const got = integrityOf(tarball);
    if (got !== LLAMA_CPP_SOURCE.integrity) {
      throw new Error(`layerlens: integrity check failed for ${spec}: expected ${LLAMA_CPP_SOURCE.integrity}, got ${got}`);
    }
    execFileSync('tar', ['-xzf', tarball, '-C', work, LLAMA_CPP_SOURCE.bundleInTarball], { stdio: 'inherit' });
    const bundle = join(work, LLAMA_CPP_SOURCE.bundleInTarball);
    const tree = join(work, 'llama.cpp');
    try {
      run('git', ['clone', '--quiet', '--no-checkout', bundle, tree], work);
      run('git', ['-c', 'advice.detachedHead=false', 'checkout', '--quiet', LLAMA_CPP_SOURCE.commit], tree);
    } catch (err) {
      throw new Error(`layerlens: could not unpack llama.cpp from ${spec}'s git bundle (git is needed at install): ${err.message}`, { cause: err });
    }
    const head = run('git', ['rev-parse', 'HEAD'], tree).trim();
    if (head !== LLAMA_CPP_SOURCE.commit) throw new Error(`layerlens: ${spec}'s bundle is at ${head}, expected ${LLAMA_CPP_SOURCE.commit}`);
    rmSync(join(tree, '.git'), { recursive: true, force: true });
    if (!existsSync(join(tree, 'ggml', 'CMakeLists.txt')) || !existsSync(join(tree, 'src', 'llama.cpp'))) {
      throw new Error(`layerlens: ${spec}'s bundle does not hold a llama.cpp tree with ggml/ and src/`);
    }
    moveDir(join(tree, 'ggml'), join(work, 'ggml'));
    // llama.cpp's cmake/common.cmake includes ggml/cmake/common.cmake by a path inside its own tree: keep
    // those CMake helpers (no sources) where it looks for them.
    cpSync(join(work, 'ggml', 'cmake'), join(tree, 'ggml', 'cmake'), { recursive: true });
    writeFileSync(join(tree, '.layerlens-source.json'), JSON.stringify(LLAMA_CPP_SOURCE, null, 2) + '\n');
    writeFileSync(join(work, 'ggml', '.layerlens-source.json'), JSON.stringify(LLAMA_CPP_SOURCE, null, 2) + '\n');
    moveDir(join(work, 'ggml'), ggmlDir);
    moveDir(tree, llamaDir);
    log(`layerlens: llama.cpp installed into vendor/llama.cpp, its ggml ${LLAMA_CPP_SOURCE.ggmlVersion} into vendor/ggml`);
    return { llamaDir, ggmlDir };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// CLI: `node scripts/install-llama-cpp.mjs [--force] [--print-version]`. binding.gyp runs it with
// --print-version, so a bare `node-gyp rebuild` fetches the sources first and defines GGML_VERSION
// from the pinned source; stdout then carries only the version (the log goes to stderr).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    installLlamaCpp({ force: process.argv.includes('--force') });
    if (process.argv.includes('--print-version')) process.stdout.write(LLAMA_CPP_SOURCE.ggmlVersion + '\n');
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
