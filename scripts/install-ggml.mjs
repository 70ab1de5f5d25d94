#!/usr/bin/env node
// Fills vendor/ggml with the ggml source tree shipped inside a pinned npm package.
// ggml is third-party code: it is fetched at install time, checked against a pinned
// integrity hash and never committed (vendor/ggml is gitignored).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const GGML_SOURCE = {
  package: 'nodejs-whisper',
  version: '0.3.1',
  // sha512 of the package tarball as published on the npm registry.
  integrity: 'sha512-ceoilUVraRuR5FnNyXpGQT2auAR48Oc3AQBEmkXnVpSn9iN6yVRzQBFCqVTGWbk6Wdi95NhvwXNzFvuR7erLWw==',
  pathInTarball: 'package/cpp/whisper.cpp/ggml',
  ggmlVersion: '0.15.1',
};

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const vendorDir = join(root, 'vendor', 'ggml');
const stampFile = join(vendorDir, '.layerlens-source.json');

function stampMatches() {
  if (!existsSync(stampFile)) return false;
  try {
    const stamp = JSON.parse(readFileSync(stampFile, 'utf8'));
    return stamp.integrity === GGML_SOURCE.integrity && existsSync(join(vendorDir, 'CMakeLists.txt'));
  } catch {
    return false;
  }
}

function integrityOf(file) {
  return 'sha512-' + createHash('sha512').update(readFileSync(file)).digest('base64');
}

export function installGgml({ force = false, log = console.error } = {}) {
  if (!force && stampMatches()) return vendorDir;
  const work = mkdtempSync(join(tmpdir(), 'layerlens-ggml-'));
  try {
    const spec = `${GGML_SOURCE.package}@${GGML_SOURCE.version}`;
    log(`layerlens: fetching ggml ${GGML_SOURCE.ggmlVersion} from the npm package ${spec}`);
    let out;
    try {
      out = execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['pack', spec, '--silent', '--pack-destination', work], {
        cwd: work,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        shell: process.platform === 'win32',
      });
    } catch (err) {
      throw new Error(`layerlens: could not download ${spec} from the npm registry (needed for the ggml sources): ${err.message}`, { cause: err });
    }
    const tarball = join(work, out.trim().split('\n').pop());
    const got = integrityOf(tarball);
    if (got !== GGML_SOURCE.integrity) {
      throw new Error(`layerlens: integrity check failed for ${spec}: expected ${GGML_SOURCE.integrity}, got ${got}`);
    }
    execFileSync('tar', ['-xzf', tarball, '-C', work, GGML_SOURCE.pathInTarball], { stdio: 'inherit' });
    const extracted = join(work, GGML_SOURCE.pathInTarball);
    if (!existsSync(join(extracted, 'CMakeLists.txt'))) {
      throw new Error(`layerlens: ${spec} does not contain ${GGML_SOURCE.pathInTarball}/CMakeLists.txt`);
    }
    writeFileSync(join(extracted, '.layerlens-source.json'), JSON.stringify(GGML_SOURCE, null, 2) + '\n');
    rmSync(vendorDir, { recursive: true, force: true });
    mkdirSync(dirname(vendorDir), { recursive: true });
    try {
      renameSync(extracted, vendorDir);
    } catch {
      cpSync(extracted, vendorDir, { recursive: true });
    }
    log(`layerlens: ggml ${GGML_SOURCE.ggmlVersion} installed into vendor/ggml`);
    return vendorDir;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// CLI: `node scripts/install-ggml.mjs [--force] [--print-version]`. binding.gyp runs it with
// --print-version, so a bare `node-gyp rebuild` fetches ggml first and defines GGML_VERSION from
// the pinned source; stdout then carries only the version (the log goes to stderr).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    installGgml({ force: process.argv.includes('--force') });
    if (process.argv.includes('--print-version')) process.stdout.write(GGML_SOURCE.ggmlVersion + '\n');
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
