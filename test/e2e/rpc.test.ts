// Compute on another machine through ggml's RPC backend, with `layerlens rpc-server` processes on
// 127.0.0.1 standing in for the other machines (child processes of the built CLI, dist/cli/main.js).
// Models are synthetic (test/helpers: the tiny GPT-2 checkpoint, a llama-architecture GGUF with random
// weights): the numbers mean nothing, their agreement does. Each remote result is held to the float64
// reference (test/reference) and to the same model run locally.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeLayers, loadModel } from '../../lib/index.js';
import { parseCliArgs } from '../../lib/cli/main.js';
import { parseRpcServerArgs, RPC_SERVER_HELP } from '../../lib/cli/rpc-server.js';
import { parseServeArgs } from '../../lib/cli/serve.js';
import { parseRpcDevice } from '../../lib/model/rpc-device.js';
import { checkpoint, NOTEBOOK_IDS } from '../helpers/checkpoints.js';
import { runCli } from '../helpers/cli.js';
import { archGguf } from '../helpers/gguf-arch-writer.js';
import { forwardReference, relativeL2Error, type RefModel, loadReference } from '../reference/gpt2-f64.js';
import { archForward, archHookValues } from '../reference/llama-f64.js';

const repoRoot = join(import.meta.dirname, '..', '..');
const cli = join(repoRoot, 'dist', 'cli', 'main.js');
const LLAMA_IDS = [5, 77, 130, 42, 9, 250, 61, 18, 200, 33, 101, 7];

interface RpcServer {
  device: `rpc://${string}`;
  port: number;
  child: ChildProcess;
  exited: Promise<void>;
}

const servers: RpcServer[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** `layerlens rpc-server --port P --threads 1` as a child process, once it prints that it listens. */
async function startServer(): Promise<RpcServer> {
  const port = await freePort();
  const child = spawn(process.execPath, [cli, 'rpc-server', '--port', String(port), '--threads', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const server: RpcServer = { device: `rpc://127.0.0.1:${port}`, port, child, exited };
  servers.push(server);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`rpc-server on ${port} did not start: ${out}${err}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(`rpc-server listening on 127.0.0.1:${port}\n`)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => reject(new Error(`rpc-server on ${port} exited: ${out}${err}`)));
  });
  return server;
}

/** Resolves once the process is in the stopped state ('T' in /proc/PID/stat): a signal is delivered asynchronously. */
async function stoppedState(pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('T')) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`process ${pid} did not stop`);
}

async function stopServer(s: RpcServer): Promise<void> {
  if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  await s.exited;
}

afterAll(async () => {
  await Promise.all(servers.map(stopServer));
});

describe('device strings and the rpc-server command line', () => {
  it('parses one or several servers and rejects malformed lists with the reason', () => {
    expect(parseRpcDevice('rpc://127.0.0.1:50052')).toEqual([{ host: '127.0.0.1', port: 50052 }]);
    expect(parseRpcDevice('rpc://a:1, rpc://b.example:65535')).toEqual([
      { host: 'a', port: 1 },
      { host: 'b.example', port: 65535 },
    ]);
    expect(() => parseRpcDevice('rpc://host')).toThrow(/has no port/);
    expect(() => parseRpcDevice('rpc://host:0')).toThrow(/port must be a number in 1\.\.65535/);
    expect(() => parseRpcDevice('rpc://host:65536')).toThrow(/port must be a number in 1\.\.65535/);
    expect(() => parseRpcDevice('rpc://a:1,cpu')).toThrow(/'cpu' is not rpc:\/\/host:port/);
    expect(() => parseRpcDevice('rpc://a:1,rpc://a:1')).toThrow(/listed twice/);
    expect(() => parseRpcDevice('rpc://[::1]:5')).toThrow(/no valid host/);
    expect(() => parseRpcDevice(Array.from({ length: 17 }, (_, i) => `rpc://h:${i + 1}`).join(','))).toThrow(/at most 16/);
  });

  it('listens on the loopback address unless --allow-remote is given', () => {
    expect(parseRpcServerArgs([])).toEqual({ help: false, host: '127.0.0.1', port: 50052, allowRemote: false });
    expect(() => parseRpcServerArgs(['--host', '0.0.0.0'])).toThrow(/without authentication or encryption.*--allow-remote/);
    expect(parseRpcServerArgs(['--host', '0.0.0.0', '--allow-remote', '--port', '7']).host).toBe('0.0.0.0');
    expect(() => parseRpcServerArgs(['--host', 'localhost'])).toThrow(/IPv4 address/);
    expect(() => parseRpcServerArgs(['--port', '0'])).toThrow(/--port/);
  });

  it('takes --device rpc://… on the command line', () => {
    expect(parseCliArgs(['--device', 'rpc://127.0.0.1:50052,rpc://gpu-box:50053', 'x'])).toMatchObject({ device: 'rpc://127.0.0.1:50052,rpc://gpu-box:50053' });
    expect(() => parseCliArgs(['--device', 'rpc://127.0.0.1', 'x'])).toThrow(/^--device 'rpc:\/\/127\.0\.0\.1': .* has no port/);
    expect(() => parseCliArgs(['--device', 'tpu', 'x'])).toThrow(/for --device/);
    expect(parseCliArgs(['--device', 'rpc://127.0.0.1:50052', '--rpc-timeout', '30000', 'x'])).toMatchObject({ rpcTimeoutMs: 30000 });
    expect(() => parseCliArgs(['--rpc-timeout', '-5', 'x'])).toThrow(/--rpc-timeout/);
    expect(parseServeArgs(['--device', 'rpc://127.0.0.1:50052', '--rpc-timeout', '2000'])).toMatchObject({ rpcTimeoutMs: 2000 });
  });

  it('rejects a bad device before loading anything', async () => {
    await expect(loadModel(checkpoint('tiny-f32'), { device: 'rpc://127.0.0.1' as `rpc://${string}` })).rejects.toThrow(/has no port/);
    await expect(loadModel(checkpoint('tiny-f32'), { device: 'rpc://a:1,rpc://b:70000' })).rejects.toThrow(/'rpc:\/\/b:70000': the port must be/);
  });
});

describe.skipIf(!existsSync(cli))('models on rpc-servers at 127.0.0.1', () => {
  let a: RpcServer;
  let b: RpcServer;
  let ref: RefModel;
  beforeAll(async () => {
    [a, b] = await Promise.all([startServer(), startServer()]);
    ref = loadReference(checkpoint('tiny-f32'));
  }, 60_000);

  it('says which endpoint it cannot reach', async () => {
    const port = await freePort(); // nothing listens there
    await expect(loadModel(checkpoint('tiny-f32'), { device: `rpc://127.0.0.1:${port}` })).rejects.toThrow(
      new RegExp(`cannot reach rpc://127\\.0\\.0\\.1:${port}: .*rpc-server`),
    );
  });

  it('says when the endpoint answers but is no ggml RPC server (ggml aborts in its handshake; the load rejects)', async () => {
    const bogus = createServer((socket) => {
      // The client may reset the connection before our reply is flushed (a race on a loaded machine).
      socket.on('error', () => {});
      socket.end('HTTP/1.0 400 Bad Request\r\n\r\n');
    });
    await new Promise<void>((resolve) => bogus.listen(0, '127.0.0.1', resolve));
    const { port } = bogus.address() as { port: number };
    try {
      for (const file of [checkpoint('tiny-f32'), archGguf('llama', 'f32').file]) {
        await expect(loadModel(file, { device: `rpc://127.0.0.1:${port}` })).rejects.toThrow(
          new RegExp(`rpc://127\\.0\\.0\\.1:${port} did not answer as a ggml RPC server`),
        );
      }
    } finally {
      bogus.close();
    }
  });

  it('rpc-server refuses a port that is in use, and prints its help', async () => {
    const busy = await runCli(['rpc-server', '--port', String(a.port)]);
    expect(busy.code).toBe(1);
    expect(busy.err).toMatch(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${a.port}: the port is in use`));
    const help = await runCli(['rpc-server', '--help']);
    expect([help.code, help.out]).toEqual([0, RPC_SERVER_HELP]);
    expect(help.out).toContain('no authentication and no encryption');
    const doc = readFileSync(join(repoRoot, 'docs', 'cli.md'), 'utf8').match(/## `layerlens rpc-server --help`[\s\S]*?```\n([\s\S]*?)```/);
    expect(doc?.[1]).toBe(RPC_SERVER_HELP);
  });

  it('refuses several servers for the GPT-2 engine, whose weights live on one device', async () => {
    await expect(loadModel(checkpoint('tiny-f32'), { device: `${a.device},${b.device}` })).rejects.toThrow(/GPT-2 engine .* one rpc:\/\/ server/);
  });

  it('runs GPT-2 remotely as it runs locally, every hook at every position', async () => {
    const [remote, local] = await Promise.all([
      loadModel(checkpoint('tiny-f32'), { device: a.device, threads: 1 }),
      loadModel(checkpoint('tiny-f32'), { device: 'cpu', threads: 1 }),
    ]);
    try {
      expect(remote.runtime.deviceDescription).toBe(`rpc://127.0.0.1:${a.port}`);
      expect(remote.runtime.capture).toBe('outputs');
      const [r, l] = await Promise.all([remote, local].map((m) => m.run(NOTEBOOK_IDS, { hooks: 'all', positions: 'all' })));
      const want = forwardReference(ref, NOTEBOOK_IDS);
      expect(r.activations.map((x) => x.name)).toEqual(l.activations.map((x) => x.name));
      r.activations.forEach((x, i) => {
        // The remote graph composes attention and GELU from ggml ops (a server runs no custom CPU
        // kernels), the local one uses layerlens' CPU kernels: the same math, rounded differently.
        expect(relativeL2Error(x.data, l.activations[i].data), x.name).toBeLessThan(1e-5);
        if (x.kind !== 'attn_pattern') expect(relativeL2Error(x.data, want.get(x.name)), x.name).toBeLessThan(1e-4);
      });
      expect(relativeL2Error(r.logits, l.logits)).toBeLessThan(1e-5);
      // The lens of the remote model (it runs on the server too) ranks as the local one does.
      const [dr, dl] = await Promise.all([remote, local].map((m) => decodeLayers('The Eiffel Tower is in', { model: m, topK: 5 })));
      expect(dr.hooks.map((h) => h.top!.map((t) => t.id))).toEqual(dl.hooks.map((h) => h.top!.map((t) => t.id)));
      dr.hooks.forEach((h, i) => h.top!.forEach((t, j) => expect(Math.abs(t.prob - dl.hooks[i].top![j].prob)).toBeLessThan(1e-5)));
    } finally {
      remote.dispose();
      local.dispose();
    }
  });

  it('runs a llama-architecture GGUF split across two servers as it runs locally', async () => {
    const g = archGguf('llama', 'f32');
    const refHooks = archHookValues(archForward(g, LLAMA_IDS));
    const [remote, local] = await Promise.all([loadModel(g.file, { device: `${a.device},${b.device}`, threads: 1 }), loadModel(g.file, { threads: 1 })]);
    try {
      expect(remote.info.engine).toBe('llama.cpp');
      expect(remote.runtime.device).toBe(`${a.device},${b.device}`);
      const [r, l] = await Promise.all([remote, local].map((m) => m.run(LLAMA_IDS, { hooks: 'all', positions: 'all' })));
      expect(r.activations.map((x) => x.name)).toEqual(l.activations.map((x) => x.name));
      r.activations.forEach((x, i) => {
        // The same ggml CPU kernels on both sides of the connection.
        expect(relativeL2Error(x.data, l.activations[i].data), x.name).toBeLessThan(1e-6);
        if (x.kind !== 'attn_pattern') expect(relativeL2Error(x.data, refHooks.get(x.name)!), x.name).toBeLessThan(1e-4);
      });
      expect(relativeL2Error(r.logits, l.logits)).toBeLessThan(1e-6);
      const [dr, dl] = await Promise.all([remote, local].map((m) => decodeLayers('Hello world', { model: m, topK: 3 })));
      expect(dr.hooks.map((h) => h.top!.map((t) => t.id))).toEqual(dl.hooks.map((h) => h.top!.map((t) => t.id)));
    } finally {
      remote.dispose();
      local.dispose();
    }
  });

  it('checks rpcTimeoutMs before loading anything', async () => {
    await expect(loadModel(checkpoint('tiny-f32'), { device: a.device, rpcTimeoutMs: -1 })).rejects.toThrow(/0\.\.2147483647.*rpcTimeoutMs/);
    await expect(loadModel(checkpoint('tiny-f32'), { device: a.device, rpcTimeoutMs: 1.5 })).rejects.toThrow(/rpcTimeoutMs/);
    await expect(loadModel(checkpoint('tiny-f32'), { device: 'cpu', rpcTimeoutMs: 1000 })).rejects.toThrow(/rpc:\/\/ devices only/);
  });

  // A server that stays connected but stops answering (SIGSTOP): without a timeout the call would never
  // settle. Each engine gets two servers of its own: one stopped, then killed; models on the other must
  // keep working after that (its broken connection is not blamed on a server that still listens).
  it.each([
    ['GPT-2', () => checkpoint('tiny-f32')],
    ['llama.cpp', () => archGguf('llama', 'f32').file],
  ] as const)(
    '%s: a server that stops answering rejects the call after rpcTimeoutMs, and later calls at once',
    async (engine, file) => {
      const [hung, other] = await Promise.all([startServer(), startServer()]);
      const ids = engine === 'GPT-2' ? NOTEBOOK_IDS : LLAMA_IDS;
      const remote = await loadModel(file(), { device: hung.device, threads: 1, rpcTimeoutMs: 5000 });
      // Three models on one server share ggml's connection to it: later loads must not probe the server
      // (the probe would wait in the one-slot accept queue of a server that serves one client at a time).
      const healthy = [];
      for (let i = 0; i < 3; i++) healthy.push(await loadModel(file(), { device: other.device, threads: 1 }));
      try {
        const before = await remote.run(ids, { hooks: ['embed'] });
        hung.child.kill('SIGSTOP');
        await stoppedState(hung.child.pid!);
        const t0 = performance.now();
        const err = await remote.run(ids, { hooks: ['embed'] }).then(
          () => undefined,
          (e: Error) => e,
        );
        const waited = performance.now() - t0;
        expect(err?.message).toMatch(new RegExp(`rpc://127\\.0\\.0\\.1:${hung.port} stopped answering \\(no answer within 5000 ms`));
        expect(waited).toBeGreaterThanOrEqual(4900);
        await expect(remote.run(ids, { hooks: ['embed'] })).rejects.toThrow(/can no longer be used/);
        // The stopped server killed: its broken connection must not be blamed on the working server.
        hung.child.kill('SIGKILL');
        await hung.exited;
        await new Promise((r) => setTimeout(r, 500));
        for (const m of healthy) expect((await m.run(ids, { hooks: ['embed'] })).activations[0].data).toEqual(before.activations[0].data);
      } finally {
        remote.dispose(); // leaked on purpose, without blocking
        for (const m of healthy) m.dispose();
        await Promise.all([stopServer(hung), stopServer(other)]);
      }
    },
    60_000,
  );

  // Last: these kill the servers.
  it.each([
    ['GPT-2', () => checkpoint('tiny-f32')],
    ['llama.cpp', () => archGguf('llama', 'f32').file],
  ] as const)('%s: a server that dies rejects the call in flight and every later one; the process lives on', async (engine, file) => {
    const server = engine === 'GPT-2' ? a : b;
    const remote = await loadModel(file(), { device: server.device, threads: 1 });
    const ids = engine === 'GPT-2' ? NOTEBOOK_IDS : LLAMA_IDS;
    let done = 0;
    // Back-to-back runs; the server is killed after the third, so it dies while one is in flight.
    const failure = (async (): Promise<Error> => {
      for (;;) {
        try {
          await remote.run(ids, { hooks: 'all', positions: 'all' });
          if (++done === 3) server.child.kill('SIGKILL');
        } catch (err) {
          return err as Error;
        }
      }
    })();
    const err = await failure;
    expect(done).toBeGreaterThanOrEqual(3);
    expect(err.message).toMatch(new RegExp(`rpc://127\\.0\\.0\\.1:${server.port} stopped answering`));
    await expect(remote.run(ids, { hooks: ['embed'] })).rejects.toThrow(/can no longer be used/);
    await expect(loadModel(file(), { device: server.device })).rejects.toThrow(
      new RegExp(`cannot reach rpc://127\\.0\\.0\\.1:${server.port}|stopped answering`),
    );
    remote.dispose(); // leaks the model on purpose, without blocking
    // A local model in the same process is unaffected.
    const local = await loadModel(file(), { device: 'cpu', threads: 1 });
    try {
      expect((await local.run(ids, { hooks: ['embed'] })).activations).toHaveLength(1);
    } finally {
      local.dispose();
    }
  });
});
