// A restricted unpickler for the state dicts torch.save writes. Pickle is a program for a stack machine
// whose GLOBAL/REDUCE opcodes can call any Python function; this one implements only the opcodes a state
// dict needs and resolves only an allow-list of globals to plain data constructors, so a hostile file can
// at worst be refused. Nothing is ever executed: REDUCE on an allowed global builds a value, anything else
// is an error that names the opcode or global.

/** A Python tuple (kept apart from lists so tensor sizes and strides read as such). */
export class PyTuple {
  constructor(readonly items: readonly unknown[]) {}
}

/** An allowed global, e.g. `torch.FloatStorage`. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** collections.OrderedDict (and plain dicts): insertion-ordered; `state` is what BUILD set (torch: `_metadata`). */
export class PyDict {
  readonly entries = new Map<string | number, unknown>();
  state: unknown = undefined;
}

/** What `_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])` describes. */
export interface TensorRecord {
  kind: 'tensor';
  storage: unknown;
  offset: number;
  size: number[];
  stride: number[];
}

/** Globals a torch state dict refers to; everything else is refused. */
export const ALLOWED_GLOBALS = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch.FloatStorage',
  'torch.HalfStorage',
  'torch.BFloat16Storage',
]);

export interface UnpickleOptions {
  /** BINPERSID: turns a persistent id (torch: a storage tuple) into a value. */
  persistentLoad: (pid: unknown) => unknown;
  /** Names the file in error messages. */
  what: string;
}

function describe(v: unknown): string {
  if (v instanceof PyGlobal) return v.qualified;
  if (v instanceof PyTuple) return 'a tuple';
  if (v instanceof PyDict) return 'a dict';
  if (v === null) return 'None';
  return typeof v === 'object' ? 'an object' : JSON.stringify(v);
}

function intList(v: unknown, what: string): number[] {
  if (!(v instanceof PyTuple) || !v.items.every((x) => Number.isSafeInteger(x))) throw new Error(`${what} must be a tuple of integers`);
  return v.items as number[];
}

/** REDUCE: only the allowed globals, each mapped to a plain value. */
function reduce(fn: unknown, args: unknown, what: string): unknown {
  if (!(fn instanceof PyGlobal)) throw new Error(`${what}: REDUCE on ${describe(fn)}; only allowed globals can be called`);
  if (!(args instanceof PyTuple)) throw new Error(`${what}: REDUCE of ${fn.qualified} with arguments that are not a tuple`);
  const a = args.items;
  switch (fn.qualified) {
    case 'collections.OrderedDict':
      if (a.length !== 0) throw new Error(`${what}: collections.OrderedDict called with ${a.length} arguments; a state dict passes none`);
      return new PyDict();
    case 'torch._utils._rebuild_tensor_v2': {
      if (a.length < 6 || a.length > 7) throw new Error(`${what}: _rebuild_tensor_v2 called with ${a.length} arguments (expected 6 or 7)`);
      if (!Number.isSafeInteger(a[1])) throw new Error(`${what}: tensor storage offset must be an integer`);
      return {
        kind: 'tensor',
        storage: a[0],
        offset: a[1] as number,
        size: intList(a[2], `${what}: tensor size`),
        stride: intList(a[3], `${what}: tensor stride`),
      } satisfies TensorRecord;
    }
    case 'torch._utils._rebuild_parameter':
      if (a.length < 1 || (a[0] as TensorRecord | null)?.kind !== 'tensor') throw new Error(`${what}: _rebuild_parameter without a tensor`);
      return a[0];
    default:
      throw new Error(`${what}: REDUCE of ${fn.qualified}, which cannot be called`);
  }
}

/** Runs the pickle in `bytes` and returns its result. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): unknown {
  const { what } = options;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const latin1 = new TextDecoder('latin1');
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let pos = 0;
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();

  const need = (n: number, op: string) => {
    if (n < 0 || pos + n > bytes.length) throw new Error(`${what}: truncated pickle: ${op} at byte ${pos} needs ${n} bytes, ${bytes.length - pos} left`);
  };
  const u8 = (op: string) => (need(1, op), bytes[pos++]);
  const u16 = (op: string) => (need(2, op), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = (op: string) => (need(4, op), (pos += 4), view.getUint32(pos - 4, true));
  const i32 = (op: string) => (need(4, op), (pos += 4), view.getInt32(pos - 4, true));
  const take = (n: number, op: string) => (need(n, op), (pos += n), bytes.subarray(pos - n, pos));
  const line = (op: string) => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw new Error(`${what}: truncated pickle: ${op} without a newline`);
    const s = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (op: string) => {
    if (stack.length === 0) throw new Error(`${what}: ${op} on an empty stack`);
    return stack.pop();
  };
  const popMark = (op: string) => {
    const items = stack;
    const prev = marks.pop();
    if (!prev) throw new Error(`${what}: ${op} without a MARK`);
    stack = prev;
    return items;
  };
  const str = (b: Uint8Array, op: string) => {
    try {
      return utf8.decode(b);
    } catch {
      throw new Error(`${what}: ${op} holds invalid UTF-8`);
    }
  };
  const global = (module: string, name: string) => {
    const q = `${module}.${name}`;
    if (!ALLOWED_GLOBALS.has(q)) throw new Error(`${what}: refusing global ${q}: a tuned lens state dict only refers to ${[...ALLOWED_GLOBALS].join(', ')}`);
    return new PyGlobal(module, name);
  };
  const setItems = (dict: unknown, kv: readonly unknown[], op: string) => {
    if (!(dict instanceof PyDict)) throw new Error(`${what}: ${op} on ${describe(dict)}, not a dict`);
    if (kv.length % 2) throw new Error(`${what}: ${op} with an odd number of items`);
    for (let i = 0; i < kv.length; i += 2) {
      const k = kv[i];
      if (typeof k !== 'string' && !Number.isSafeInteger(k))
        throw new Error(`${what}: ${op} with a key that is ${describe(k)}; only string and integer keys are read`);
      dict.entries.set(k as string | number, kv[i + 1]);
    }
  };

  for (;;) {
    if (pos >= bytes.length) throw new Error(`${what}: truncated pickle: no STOP opcode`);
    const at = pos;
    const op = bytes[pos++];
    switch (op) {
      case 0x80: // PROTO
        if (u8('PROTO') > 5) throw new Error(`${what}: pickle protocol ${bytes[pos - 1]} is not supported`);
        break;
      case 0x95: // FRAME: a length hint only
        take(8, 'FRAME');
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) throw new Error(`${what}: STOP with ${stack.length} values on the stack`);
        return stack[0];
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict());
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        stack.push(u8('BININT1'));
        break;
      case 0x4d: // BININT2
        stack.push(u16('BININT2'));
        break;
      case 0x4a: // BININT
        stack.push(i32('BININT'));
        break;
      case 0x8a: {
        // LONG1: n-byte little-endian two's complement
        const n = u8('LONG1');
        if (n > 7) throw new Error(`${what}: LONG1 of ${n} bytes is too large for a size or offset`);
        const b = take(n, 'LONG1');
        let v = 0;
        for (let i = n - 1; i >= 0; i--) v = v * 256 + b[i];
        if (n > 0 && b[n - 1] & 0x80) v -= 2 ** (8 * n);
        stack.push(v);
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(str(take(u32('BINUNICODE'), 'BINUNICODE'), 'BINUNICODE'));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(str(take(u8('SHORT_BINUNICODE'), 'SHORT_BINUNICODE'), 'SHORT_BINUNICODE'));
        break;
      case 0x71: // BINPUT
      case 0x72: // LONG_BINPUT
        if (stack.length === 0) throw new Error(`${what}: PUT on an empty stack at byte ${at}`);
        memo.set(op === 0x71 ? u8('BINPUT') : u32('LONG_BINPUT'), stack[stack.length - 1]);
        break;
      case 0x94: // MEMOIZE
        if (stack.length === 0) throw new Error(`${what}: MEMOIZE on an empty stack`);
        memo.set(memo.size, stack[stack.length - 1]);
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const key = op === 0x68 ? u8('BINGET') : u32('LONG_BINGET');
        if (!memo.has(key)) throw new Error(`${what}: GET of memo slot ${key}, which was never set`);
        stack.push(memo.get(key));
        break;
      }
      case 0x63: // GLOBAL
        stack.push(global(line('GLOBAL'), line('GLOBAL')));
        break;
      case 0x93: {
        // STACK_GLOBAL
        const name = pop('STACK_GLOBAL');
        const module = pop('STACK_GLOBAL');
        if (typeof module !== 'string' || typeof name !== 'string') throw new Error(`${what}: STACK_GLOBAL needs two strings`);
        stack.push(global(module, name));
        break;
      }
      case 0x74: {
        // TUPLE (popMark replaces `stack`: take the items before pushing)
        const items = popMark('TUPLE');
        stack.push(new PyTuple(items));
        break;
      }
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: {
        // TUPLE3
        const n = op - 0x84;
        if (stack.length < n) throw new Error(`${what}: TUPLE${n} with ${stack.length} values on the stack`);
        stack.push(new PyTuple(stack.splice(stack.length - n, n)));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop('REDUCE');
        stack.push(reduce(pop('REDUCE'), args, what));
        break;
      }
      case 0x51: // BINPERSID
        stack.push(options.persistentLoad(pop('BINPERSID')));
        break;
      case 0x62: {
        // BUILD: only the state of an OrderedDict (torch's `_metadata`)
        const state = pop('BUILD');
        const target = stack[stack.length - 1];
        if (!(target instanceof PyDict)) throw new Error(`${what}: BUILD on ${describe(target)}; only a dict's state is read`);
        target.state = state;
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop('SETITEM');
        const k = pop('SETITEM');
        setItems(stack[stack.length - 1], [k, v], 'SETITEM');
        break;
      }
      case 0x75: {
        // SETITEMS
        const kv = popMark('SETITEMS');
        setItems(stack[stack.length - 1], kv, 'SETITEMS');
        break;
      }
      default:
        throw new Error(
          `${what}: refusing pickle opcode 0x${op.toString(16).padStart(2, '0')} (${JSON.stringify(String.fromCharCode(op))}) at byte ${at}: not used by a torch state dict`,
        );
    }
  }
}
