// A synthetic byte-level BPE vocabulary (GPT-2 style) for the synthetic GGUF models: the 256 byte
// tokens in GPT-2's byte-to-unicode order, merged tokens each made by one merge of two earlier tokens,
// then the special tokens. Every merge's result is a token and every token string is unique, as
// llama.cpp's vocab loader requires (a duplicate string aborts it).

/** GGUF token types (llama_token_type). */
export const TOKEN_TYPE = { normal: 1, control: 3 } as const;

export type ChatTemplateKind = 'chatml' | 'llama3';

export interface SyntheticVocab {
  tokens: string[];
  tokenTypes: number[];
  merges: string[];
  bosId: number;
  eosId: number;
  /** the end-of-turn token of the chat template (<|eot_id|> or <|im_end|>) */
  eotId: number;
  chatTemplate: string;
}

/**
 * GPT-2's byte-to-unicode table in token order: entry i is the character standing for byte
 * `bytes[i]`. Printable bytes (! … ~, ¡ … ¬, ® … ÿ) stand for themselves and come first; the other
 * 68 bytes map to U+0100 upward in byte order (space is Ġ, newline Ċ).
 */
export function gpt2ByteTokens(): { bytes: number[]; chars: string[] } {
  const bytes: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bytes.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bytes.push(b);
  for (let b = 0xae; b <= 0xff; b++) bytes.push(b);
  const codepoints = [...bytes];
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      codepoints.push(256 + extra++);
    }
  }
  return { bytes, chars: codepoints.map((c) => String.fromCodePoint(c)) };
}

/** Text in byte-level characters (UTF-8 bytes through the byte-to-unicode table). */
export function toByteLevel(text: string): string {
  const { bytes, chars } = gpt2ByteTokens();
  const charOf = new Map(bytes.map((b, i) => [b, chars[i]]));
  return [...Buffer.from(text, 'utf8')].map((b) => charOf.get(b)!).join('');
}

// Words whose left-to-right merges make the small vocabulary's merged tokens.
const SMALL_WORDS = [
  ' the',
  ' of',
  ' and',
  ' to',
  ' in',
  'in',
  'er',
  'an',
  'on',
  ' a',
  ' is',
  ' capital',
  ' Paris',
  ' France',
  ' Poland',
  'Hello',
  ' world',
  'Q:',
  'A:',
  '\n\n',
  '  ',
];

// The Jinja templates llama.cpp's llama_chat_apply_template recognises: it detects ChatML by
// "<|im_start|>", Llama 3 by "<|start_header_id|>" together with "<|end_header_id|>".
const CHAT_TEMPLATES: Record<ChatTemplateKind, { template: string; specials: string[]; eot: string }> = {
  chatml: {
    template:
      "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
      "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
    specials: ['<|im_start|>', '<|im_end|>'],
    eot: '<|im_end|>',
  },
  llama3: {
    template:
      "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}" +
      "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
    specials: ['<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'],
    eot: '<|eot_id|>',
  },
};

export const BOS_TEXT = '<|begin_of_text|>';
export const EOS_TEXT = '<|end_of_text|>';

/**
 * The vocabulary: `size` 'small' (bytes + merges of a few English words + specials, about 300
 * tokens) or a total token count (e.g. 128256) filled with merged tokens of two then three byte
 * characters.
 */
export function syntheticVocab(size: 'small' | number, chat: ChatTemplateKind): SyntheticVocab {
  const tokens = [...gpt2ByteTokens().chars];
  const known = new Set(tokens);
  const merges: string[] = [];
  const addMerge = (a: string, b: string) => {
    const t = a + b;
    if (known.has(t)) return;
    merges.push(`${a} ${b}`);
    tokens.push(t);
    known.add(t);
  };
  const { specials: chatSpecials, template, eot } = CHAT_TEMPLATES[chat];
  const specials = [BOS_TEXT, EOS_TEXT, ...chatSpecials];

  if (size === 'small') {
    for (const word of SMALL_WORDS) {
      const chars = [...toByteLevel(word)];
      let cur = chars[0];
      for (const c of chars.slice(1)) {
        addMerge(cur, c);
        cur += c;
      }
    }
  } else {
    const target = size - specials.length;
    if (!Number.isInteger(size) || target < tokens.length)
      throw new Error(`vocabulary size ${size} is below the ${tokens.length + specials.length} byte and special tokens`);
    const bytesChars = tokens.slice(0, 256);
    // Two-character tokens (65,536), then two-character token + byte character, as many as needed.
    outer: for (const a of bytesChars)
      for (const b of bytesChars) {
        if (tokens.length >= target) break outer;
        addMerge(a, b);
      }
    const pairs = tokens.slice(256);
    outer3: for (const a of pairs)
      for (const b of bytesChars) {
        if (tokens.length >= target) break outer3;
        addMerge(a, b);
      }
    if (tokens.length < target) throw new Error(`vocabulary size ${size} is beyond what this generator makes`);
  }

  const tokenTypes: number[] = tokens.map(() => TOKEN_TYPE.normal);
  for (const s of specials) {
    tokens.push(s);
    tokenTypes.push(TOKEN_TYPE.control);
  }
  return {
    tokens,
    tokenTypes,
    merges,
    bosId: tokens.indexOf(BOS_TEXT),
    eosId: tokens.indexOf(EOS_TEXT),
    eotId: tokens.indexOf(eot),
    chatTemplate: template,
  };
}
