// The float64 reference of the tuned lens's objective, checked on its own before the native trainer is
// compared with it (test/engine/train-tuned-lens.test.ts): its gradient against central finite
// differences of its loss, and its loss against properties of the KL divergence. Also the LR schedule
// against torch's get_linear_schedule_with_warmup, written out from its definition.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { optimizerUpdate, scheduledLr } from '../../lib/lens/tuned/train.js';
import { lensLoss64, lensLossAndGrad64, type LensHead, type LensLossInput } from '../reference/tuned-lens-grad.js';
import { signedRandom } from '../helpers/random.js';

function randomProblem(seed: number, vocab = 13, d = 6, rows = 3, scale = 0.4): LensLossInput {
  const rnd = signedRandom(seed);
  const vec = (n: number, s = 1) => Float64Array.from({ length: n }, () => rnd() * s);
  const head: LensHead = { wte: vec(vocab * d, 2), gamma: vec(d).map((g) => 1 + 0.5 * g), beta: vec(d, 0.3), eps: 1e-5, vocab, d };
  return { head, inputs: vec(rows * d, 3), final: vec(rows * d, 3), rows, weight: vec(d * d, scale), bias: vec(d, scale) };
}

describe('tuned lens objective (float64 reference)', () => {
  for (const seed of [1, 2, 3]) {
    it(`gradient = central finite differences of the loss (seed ${seed})`, () => {
      const x = randomProblem(seed);
      const { gradWeight, gradBias } = lensLossAndGrad64(x);
      const step = 1e-5;
      const numeric = (params: Float64Array, k: number) => {
        const saved = params[k];
        params[k] = saved + step;
        const up = lensLoss64(x);
        params[k] = saved - step;
        const down = lensLoss64(x);
        params[k] = saved;
        return (up - down) / (2 * step);
      };
      const W = x.weight as Float64Array;
      const B = x.bias as Float64Array;
      let worst = 0;
      let norm = 0;
      for (let k = 0; k < W.length; k++) {
        worst = Math.max(worst, Math.abs(numeric(W, k) - gradWeight[k]));
        norm = Math.max(norm, Math.abs(gradWeight[k]));
      }
      for (let k = 0; k < B.length; k++) {
        worst = Math.max(worst, Math.abs(numeric(B, k) - gradBias[k]));
        norm = Math.max(norm, Math.abs(gradBias[k]));
      }
      expect(norm, 'a gradient that is not ~0 (else the comparison proves nothing)').toBeGreaterThan(1e-2);
      expect(worst / norm).toBeLessThan(1e-7);
    });
  }

  it('the loss is KL(p ‖ q) summed over rows: 0 when the lens sees the final state, positive otherwise, and additive over rows', () => {
    const x = randomProblem(4);
    const d = x.head.d;
    const zero = { ...x, weight: new Float64Array(d * d), bias: new Float64Array(d) };
    expect(lensLoss64({ ...zero, inputs: x.final })).toBeCloseTo(0, 12);
    const total = lensLoss64(x);
    expect(total).toBeGreaterThan(0);
    let parts = 0;
    for (let r = 0; r < x.rows; r++)
      parts += lensLoss64({
        ...x,
        rows: 1,
        inputs: (x.inputs as Float64Array).subarray(r * d, (r + 1) * d),
        final: (x.final as Float64Array).subarray(r * d, (r + 1) * d),
      });
    expect(parts).toBeCloseTo(total, 12);
    // Direct KL of one row from explicitly normalised distributions (no log-sum-exp shortcut).
    const row = { ...x, rows: 1 };
    const dist = (h: Float64Array, A: ArrayLike<number>, b: ArrayLike<number>) => {
      const u = Array.from({ length: d }, (_, o) => h[o] + b[o] + Array.from({ length: d }, (_, j) => A[o * d + j] * h[j]).reduce((s, v) => s + v, 0));
      const mean = u.reduce((s, v) => s + v, 0) / d;
      const sd = Math.sqrt(u.reduce((s, v) => s + (v - mean) ** 2, 0) / d + x.head.eps);
      const y = u.map((v, j) => ((v - mean) / sd) * x.head.gamma[j] + x.head.beta[j]);
      const e = Array.from({ length: x.head.vocab }, (_, v) => Math.exp(y.reduce((s, yj, j) => s + yj * x.head.wte[v * d + j], 0)));
      const z = e.reduce((s, v) => s + v, 0);
      return e.map((v) => v / z);
    };
    const p = dist((x.final as Float64Array).subarray(0, d), new Float64Array(d * d), new Float64Array(d));
    const q = dist((x.inputs as Float64Array).subarray(0, d), x.weight, x.bias);
    const kl = p.reduce((s, pv, v) => s + pv * Math.log(pv / q[v]), 0);
    expect(lensLoss64(row)).toBeCloseTo(kl, 12);
  });
});

describe('learning-rate schedule', () => {
  it("is torch's linear schedule with warmup: lr·t/w during warmup, then lr·(T−t)/(T−w)", () => {
    const h = { lr: 0.1, steps: 10, warmupSteps: 0 };
    expect(Array.from({ length: 10 }, (_, t) => scheduledLr(h, t))).toEqual(Array.from({ length: 10 }, (_, t) => (0.1 * (10 - t)) / 10));
    const w = { lr: 1e-3, steps: 10, warmupSteps: 2 };
    expect(scheduledLr(w, 0)).toBe(0);
    expect(scheduledLr(w, 1)).toBeCloseTo(5e-4, 15);
    expect(scheduledLr(w, 2)).toBeCloseTo(1e-3, 15);
    expect(scheduledLr(w, 6)).toBeCloseTo(5e-4, 15);
    expect(scheduledLr(w, 10)).toBe(0);
  });
});

/** A python3 that imports torch (the pyenv shim first, then Debian's), or null. */
function torchPython(): string | null {
  for (const py of ['python3', '/usr/bin/python3']) if (spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return py;
  return null;
}
const python = torchPython();

describe('optimizer updates', () => {
  it('SGD with Nesterov momentum, first step by hand: θ − lr·(g′ + μ·g′) with g′ = g + wd·θ', () => {
    const params = Float32Array.from([1, -2]);
    const grad = Float32Array.from([0.5, 0.25]);
    optimizerUpdate({ optimizer: 'sgd', momentum: 0.9, weightDecay: 0.1 }, params, grad, 0.1, 0, {});
    const expected = [1 - 0.1 * 1.9 * (0.5 + 0.1), -2 - 0.1 * 1.9 * (0.25 - 0.2)];
    expected.forEach((e, i) => expect(params[i]).toBeCloseTo(e, 6));
  });

  it.skipIf(!python)("SGD (nesterov) and Adam (amsgrad) over four steps with changing lr = torch.optim's", () => {
    const theta = [0.5, -1.25, 2, 0.001, -0.3];
    const grads = [
      [0.1, -0.2, 0.3, 0.05, -1],
      [-0.4, 0.1, 0.2, 0, 0.5],
      [0.3, 0.3, -0.1, 0.2, 0.1],
      [0.01, -0.5, 0.4, -0.3, 0.2],
    ];
    const lrs = [0.1, 0.075, 0.05, 0.025];
    const script = `
import json, sys, torch
theta, grads, lrs = json.loads(sys.argv[1])
out = {}
for name in ['sgd', 'adam']:
    p = torch.nn.Parameter(torch.tensor(theta, dtype=torch.float32))
    opt = torch.optim.SGD([p], lr=lrs[0], momentum=0.9, nesterov=True, weight_decay=1e-3) if name == 'sgd' \
        else torch.optim.Adam([p], lr=lrs[0], betas=(0.9, 0.999), amsgrad=True, weight_decay=1e-3)
    for g, lr in zip(grads, lrs):
        for group in opt.param_groups: group['lr'] = lr
        p.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
    out[name] = p.detach().tolist()
print(json.dumps(out))
`;
    const r = spawnSync(python!, ['-c', script, JSON.stringify([theta, grads, lrs])], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const torchResult = JSON.parse(r.stdout) as Record<'sgd' | 'adam', number[]>;
    for (const optimizer of ['sgd', 'adam'] as const) {
      const params = Float32Array.from(theta);
      const buffers = {};
      grads.forEach((g, step) => optimizerUpdate({ optimizer, momentum: 0.9, weightDecay: 1e-3 }, params, Float32Array.from(g), lrs[step], step, buffers));
      torchResult[optimizer].forEach((t, i) => expect(Math.abs(params[i] - t), `${optimizer} [${i}]`).toBeLessThan(1e-6 * Math.max(1, Math.abs(t))));
    }
  });
});
