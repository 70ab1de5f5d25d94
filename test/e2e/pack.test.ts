// The published package: build the portable prebuild with prebuildify (which runs node-gyp on
// binding.gyp), `npm pack`, install the tarball into an empty project with no compiler on PATH, and
// run decodeLayers there.
// Slow (a full portable build of ggml and libllama); set LAYERLENS_SKIP_PACK_TEST=1 to skip.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpoint, repoRoot } from '../helpers/checkpoints.js';

const skip =
  !!process.env.LAYERLENS_SKIP_PACK_TEST ||
  !existsSync(join(repoRoot, 'vendor', 'ggml', 'CMakeLists.txt')) ||
  !existsSync(join(repoRoot, 'vendor', 'llama.cpp', 'CMakeLists.txt'));
const work = mkdtempSync(join(tmpdir(), 'layerlens-pack-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// node-gyp downloads Node's headers unless told where they are: use the ones installed next to this
// node when their version matches, so the test also runs offline.
function localNodeDir(): string | undefined {
  const prefix = join(dirname(process.execPath), '..');
  try {
    const h = readFileSync(join(prefix, 'include', 'node', 'node_version.h'), 'utf8');
    const part = (name: string) => h.match(new RegExp(`#define ${name} (\\d+)`))?.[1];
    const version = `v${part('NODE_MAJOR_VERSION')}.${part('NODE_MINOR_VERSION')}.${part('NODE_PATCH_VERSION')}`;
    return version === process.version ? prefix : undefined;
  } catch {
    return undefined;
  }
}

// Asynchronous, so the test worker keeps answering vitest while the build runs for minutes.
async function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const { stdout } = await promisify(execFile)(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  return stdout;
}

describe.skipIf(skip)('npm pack + install from the prebuild, without compilers', () => {
  it('installs from the tarball and runs decodeLayers', { timeout: 1_500_000 }, async () => {
    // 1. A copy of the tracked sources (plus the fetched llama.cpp and ggml, with their install stamps so
    //    binding.gyp's install step does not download them again, and the built dist/), sharing node_modules.
    const src = join(work, 'src');
    const tracked = (await run('git', ['ls-files', '-z'], repoRoot)).split('\0').filter(Boolean);
    for (const f of tracked) {
      if (!existsSync(join(repoRoot, f))) continue;
      mkdirSync(dirname(join(src, f)), { recursive: true });
      cpSync(join(repoRoot, f), join(src, f));
    }
    cpSync(join(repoRoot, 'vendor', 'ggml'), join(src, 'vendor', 'ggml'), { recursive: true });
    cpSync(join(repoRoot, 'vendor', 'llama.cpp'), join(src, 'vendor', 'llama.cpp'), { recursive: true });
    cpSync(join(repoRoot, 'dist'), join(src, 'dist'), { recursive: true });
    symlinkSync(join(repoRoot, 'node_modules'), join(src, 'node_modules'), 'dir');

    // 2. The prebuild (portable CPU addon, `npm run prebuild`: node-gyp through prebuildify) and the tarball.
    expect(JSON.parse(readFileSync(join(src, 'package.json'), 'utf8')).scripts.prebuild).toBe('prebuildify --napi --strip');
    const nodedir = process.env.npm_config_nodedir ?? localNodeDir();
    // prebuildify runs node-gyp without -j; JOBS=max lets make use every core.
    const buildEnv = { ...process.env, GYP_DEFINES: '', JOBS: 'max', ...(nodedir ? { npm_config_nodedir: nodedir } : {}) };
    await run(process.execPath, [join(src, 'node_modules', 'prebuildify', 'bin.js'), '--napi', '--strip'], src, buildEnv);
    expect(existsSync(join(src, 'build', 'Makefile')) || existsSync(join(src, 'build', 'binding.sln'))).toBe(true); // node-gyp's output
    const prebuilt = readdirSync(join(src, 'prebuilds', `${process.platform}-${process.arch}`));
    expect(prebuilt.some((f) => f.endsWith('.node'))).toBe(true);
    const tgzName = (await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], src)).trim().split('\n').pop()!;
    const tarball = join(work, tgzName);
    const listing = await run('tar', ['-tzf', tarball], work);
    expect(listing).toMatch(/package\/prebuilds\/.*\.node/);
    expect(listing).toMatch(/package\/dist\/index\.js/);
    expect(listing).not.toMatch(/package\/(build|vendor)\//);
    // What a user's machine needs to compile when no prebuild fits, and no test tooling.
    expect(listing).toMatch(/package\/binding\.gyp/);
    expect(listing).toMatch(/package\/CMakeLists\.txt/);
    expect(listing).toMatch(/package\/native\/lens\/topk\.cpp/);
    expect(listing).toMatch(/package\/native\/llama\/llama_engine\.cpp/);
    expect(listing).toMatch(/package\/scripts\/install-llama-cpp\.mjs/);
    expect(listing).toMatch(/package\/scripts\/native-sources\.mjs/);
    expect(listing).not.toMatch(/package\/scripts\/install-ggml\.mjs/);
    expect(listing).not.toMatch(/package\/native\/(test|fuzz)\//);

    // 3. An empty project; PATH holds node, npm and sh only, so no compiler, cmake or make can be found.
    const app = join(work, 'app');
    const bin = join(work, 'bin');
    mkdirSync(app);
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    symlinkSync('/bin/sh', join(bin, 'sh')); // npm runs lifecycle scripts through sh
    const npmCli = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
    writeFileSync(join(bin, 'npm'), `#!/bin/sh\nexec "${join(bin, 'node')}" "${npmCli}" "$@"\n`, { mode: 0o755 });
    for (const tool of ['cc', 'gcc', 'g++', 'c++', 'cmake', 'make', 'ninja']) {
      expect(() => execFileSync('/bin/sh', ['-c', `command -v ${tool}`], { env: { PATH: bin } }), tool).toThrow();
    }
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', type: 'module', private: true }));
    const env = { HOME: process.env.HOME, PATH: bin, npm_config_cache: join(work, 'npm-cache'), npm_config_update_notifier: 'false' };
    await run(join(bin, 'npm'), ['install', '--no-audit', '--no-fund', tarball], app, env);
    expect(existsSync(join(app, 'node_modules', 'layerlens', 'build'))).toBe(false);

    // 4. The installed package runs, from its prebuild.
    const dir = checkpoint('tiny-f32');
    writeFileSync(
      join(app, 'main.mjs'),
      `import { createRequire } from 'node:module';
import { decodeLayers, releaseModels } from 'layerlens';
const require = createRequire(import.meta.url);
const addonPath = require('node-gyp-build').path(require('node:path').dirname(require.resolve('layerlens/package.json')));
const r = await decodeLayers('Hello world', { model: ${JSON.stringify(dir)}, hooks: 'all' });
console.log(JSON.stringify({ addonPath, prediction: r.prediction, hooks: r.hooks.length }));
await releaseModels();
`,
    );
    const out = JSON.parse((await run(join(bin, 'node'), ['main.mjs'], app, env)).trim().split('\n').pop()!);
    expect(out.addonPath).toMatch(/prebuilds/);
    expect(out.hooks).toBe(13);
    expect(out.prediction.token).toEqual(expect.any(String));
  });
});
