// The text of `layerlens --help`. Lists of choices come from the constants the checks use, so the
// help cannot drift from them.
import { DEVICES, DTYPES, MAX_THREADS } from '../types.js';
import { vocabSize } from '../tokens/tokenizer.js';
import { VIEW_HELP } from '../render/view.js';
import { DEFAULT_CONVERT_TYPE } from './convert.js';
import { DEFAULT_TOP_K } from './lens.js';
import { GENERATE_HELP } from './generate-flags.js';
import { DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE } from '../batch/limits.js';

export const HELP = `Usage: layerlens [options] "prompt"
       layerlens [options] -          (read the prompt from stdin)
       layerlens pull NAME [--revision R] [--quiet]
       layerlens convert PATH --to gguf [--type ${DTYPES.join('|')}] [--out FILE]
       layerlens steer --positive P… --negative N… [--layers 6-10] [--method mean|pca] [--out FILE]
       layerlens train-lens --data FILE --out DIR [--steps N] [--lr X] [--resume]
       layerlens serve [--port 8080] [--host 127.0.0.1] [--model …]   (web viewer)
       layerlens rpc-server [--host 127.0.0.1] [--port 50052] [--threads N]   (compute for others)
       layerlens batch INPUT.jsonl|INPUT.txt [--out results.jsonl] [--summary summary.json] [--shard i/N] [--batch-size N]
                       [--tuned-lens PATH|NAME] [--lens logit|tuned]
       layerlens models [--json]

Runs the model on the prompt and decodes every hook point through the final norm and the
unembedding (the "logit lens"): what the model would predict after each layer. GPT-2 runs on
layerlens' own engine; any other GGUF model (llama, qwen2, qwen3, gemma2, gemma3, phi3, gptneox,
olmo2, ...) runs through llama.cpp.

Options:
  --model PATH|NAME     model directory (config.json + model.safetensors), a .safetensors file
                        with config.json beside it, a .gguf file (any architecture llama.cpp loads), or a hub name (gpt2, gpt2-medium, gpt2-large,
                        gpt2-xl, distilgpt2, org/name): taken from the local Hugging Face cache,
                        else downloaded into it; default: $LAYERLENS_MODEL, else gpt2-medium.
                        Also: a GGUF of a hub repo by quant (org/name:Q8_0) or by file
                        (org/name/file.gguf), cached like any hub file; an Ollama model
                        (ollama:llama3.2:1b, from $OLLAMA_MODELS or ~/.ollama/models); an LM Studio
                        model (lmstudio:publisher/repo[/file.gguf]); see layerlens models
  --revision R          branch, tag or commit of a hub model (default main)
  --quiet               no download progress bar (it is only drawn when stderr is a terminal)
  --engine E            auto (default: GPT-2 checkpoints and gpt2 GGUFs on the GPT-2 engine, every
                        other GGUF on llama.cpp), gpt2, or llama.cpp (reads GGUF files only)
  --context-length N    llama.cpp engine: the context to allocate (default: the model's, at most 4096)
  --verbose             llama.cpp engine: let llama.cpp and ggml print their logs (default: errors only)
  --chat                wrap the prompt in the model's own chat template as a user message with the
                        assistant turn opened (llama.cpp engine; the template comes from the GGUF)
  --top-k N             tokens shown per hook, an integer in 1..n_vocab (${vocabSize} for GPT-2; default
                        ${DEFAULT_TOP_K}); the sampler's top-k is --sample-top-k
  --hooks LIST          which hook points: "default" (embed + every block's resid_mid and
                        resid_post), "all" (every hook but attn_head_out), or a
                        comma-separated list of hook names (embed, blocks.3.mlp_out), kinds (resid_post
                        = that kind in every block: attn_out, resid_mid, mlp_post, mlp_out,
                        resid_post, attn_pattern, attn_head_out), blocks.L (every hook of block L),
                        all, default; a llama.cpp model offers the kinds its architecture has
                        (docs/models-and-hub.md), and presets keep those
  --positions WHICH     token positions to lens: "last" (default), "all", or a comma-separated
                        list of 0-based positions such as 0,3,5
  --json                print JSON (model, prompt, tokens, position, positions, prediction, hooks)
                        instead of the table
  --vectors             with --json: include each hook's captured activation row as "vector"
${VIEW_HELP}  --ablate LIST         zero these hooks at every position inside the graph before lensing (an
                        intervention): comma-separated hook names or kinds, as for --hooks, of
                        d-wide hooks (embed, attn_out, resid_mid, mlp_out, resid_post) and mlp_post
                        (attn_pattern and attn_head_out cannot be ablated); with
                        --html the report shows the ablated run and the clean run (before/after)
  --patch-from PROMPT   activation patching: run PROMPT, take --patch-hook HOOK (one hook name such
  --patch-hook HOOK     as blocks.3.resid_post or blocks.3.mlp_post) at its last token, put it into
                        the prompt's last token (--patch-mode set, the default, or add),
  --patch-mode M        and show the patched lens plus the --target token's probability and rank per
                        layer, clean vs patched (--target is required; --json prints both runs;
                        --html FILE also writes a before/after report: patched vs clean; not with
                        --grid)
  --tuned-lens PATH|NAME
                        decode with a tuned lens instead of the logit lens: a folder with
                        config.json and params.pt or params.safetensors (as the tuned-lens package
                        saves it), or the name of a lens the package publishes (the Hugging Face
                        space AlignmentResearch/tuned-lens, lens/NAME/; e.g. gpt2 or
                        EleutherAI/pythia-160m-deduped), looked up in and downloaded into the
                        Hugging Face cache like a model. embed and every block's resid_post but the
                        last go through their translator first; other hooks keep the logit lens
                        (--json marks each row's "lens"); --html shows the logit and the tuned lens
                        side by side with a switch; not with --patch-from
  --lens logit|tuned    which lens the table and --json show (default: tuned with --tuned-lens, else
                        logit; logit with --tuned-lens shows the logit lens); with --html, the lens
                        the report shows first (default: both side by side)
  --control-vector FILE add llama.cpp's control vector FILE (a GGUF of direction.N tensors, e.g. from
                        layerlens steer) to blocks.N.resid_post at every position, inside the graph
                        before lensing; repeatable: the vectors are summed. With --html the report
                        shows the unsteered and the steered run (both ablated alike with --ablate)
  --control-vector-scaled FILE SCALE
                        the same, times SCALE (also written FILE:SCALE); repeatable
  --control-vector-layer-range A B
                        apply control vectors to blocks A..B only (inclusive; default 1..n_layer)
${GENERATE_HELP}  --threads N           CPU threads for the forward pass, 1..${MAX_THREADS} (default: all cores)
  --device D            ${DEVICES.join(', ')}; auto (the default) takes a GPU backend when the build
                        has one, else the CPU; or rpc://HOST:PORT: the forward runs on a layerlens
                        rpc-server there (several, comma-separated, split a llama.cpp model's layers)
  --rpc-timeout MS      with rpc://: how long one call to the servers (the load included) may take
                        before it fails and the model is given up (default 0: no limit)
  -h, --help            print this help and exit
  -V, --version         print the version and exit

Commands:
  serve                 start the web viewer on http://127.0.0.1:8080/ (see layerlens serve --help)
  rpc-server            serve this machine's devices to other machines' --device rpc://HOST:PORT
                        through ggml's RPC backend (see layerlens rpc-server --help); no
                        authentication or encryption: loopback by default, trusted networks only
  pull NAME             download the hub model NAME (config.json and model.safetensors) into the
                        Hugging Face cache unless it is already there, and print its snapshot
                        directory (for org/name:QUANT or org/name/file.gguf: that GGUF file, and
                        its path); takes --revision, --quiet and --help
  steer                 build a steering vector from paired prompts and write it as llama.cpp's
                        control-vector GGUF: --positive P and --negative N (repeatable, paired in
                        order; a prompt, or a file of prompts one per line), --layers LIST (the
                        blocks N of direction.N, 1..n_layer-1, e.g. 6-10 or 2,4; default all),
                        --method mean|pca (default mean), --position last|all (default last),
                        --read-from same-block|previous-block (default same-block), --normalize,
                        --out FILE (default control_vector.gguf); also --model, --device, --threads
  batch INPUT           the lens of every prompt of a data set: INPUT.jsonl has lines {"id"?: "…",
                        "prompt": "…", "target"?: "…"} (id default: the line number), INPUT.txt one
                        prompt per line (id = line number); writes one JSON line per prompt (the
                        --json of that prompt plus its "id") to --out FILE (default stdout). A rerun
                        with the same --out skips the ids already there (resume; an incomplete last
                        line is cut); --shard i/N runs the ids whose hash falls in shard i of N;
                        --summary FILE.json writes per-hook statistics (share of top-1 = prediction
                        and = target, mean target rank and probability, entropy, KL; 95% intervals)
                        and FILE.html with plots (--summary-html FILE to put it elsewhere); bad lines
                        are reported on stderr with their line number and skipped; takes --hooks,
                        --top-k, --positions, --target (for lines without one) and the model flags;
                        --tuned-lens PATH|NAME and --lens as above; --batch-size N prompts per
                        packed forward, 1..${MAX_BATCH_SIZE} (default ${DEFAULT_BATCH_SIZE} on the GPT-2 engine, 1 on llama.cpp,
                        whose packed rows differ from runs alone in the last digits); a progress
                        bar with rate and ETA is drawn when stderr is a terminal
  models                list the models on this machine: Ollama's store, LM Studio's models
                        folders and the Hugging Face cache, with architecture, size, quant,
                        parameters and whether layerlens runs them (--json for JSON)
  train-lens            train a tuned lens on a text corpus and write it to DIR (config.json + params.pt,
                        as the tuned-lens package saves one; use it with --tuned-lens DIR):
                        --data FILE (UTF-8 text, required), --out DIR (required), --steps N (default
                        250), --tokens-per-step N (default 4096), --seq-len N (default min(1024, n_ctx)),
                        --lr X (default 0.1 for sgd, 1e-3 for adam), --optimizer sgd|adam (default sgd,
                        Nesterov momentum 0.9), --held-out N (tokens at the end of the corpus for the
                        held-out KL; default ~10%), --checkpoint-every N (default 10; DIR/checkpoint),
                        --resume (continue from DIR/checkpoint), --quiet (no progress); also --model,
                        --device, --threads
  convert PATH          write the checkpoint at PATH (directory or .safetensors with config.json)
                        as a GGUF file with llama.cpp's gpt2 tensor names: --to gguf (required),
                        --type ${DTYPES.slice(0, -1).join(', ')} or ${DTYPES[DTYPES.length - 1]} (default ${DEFAULT_CONVERT_TYPE}), --out FILE (default:
                        PATH's directory name + "-TYPE.gguf" in the current directory); loadable
                        with --model FILE

A hub name is looked up in the Hugging Face cache (the one Python's huggingface_hub uses) before
anything is downloaded. Environment: HF_ENDPOINT (hub URL, default https://huggingface.co),
HF_HUB_CACHE or HF_HOME (cache location, default ~/.cache/huggingface/hub), HF_HUB_OFFLINE=1 (never
download), HF_TOKEN (access token for private or gated models), LAYERLENS_MODEL (default --model).

The prompt is used exactly as given: no BOS token is prepended, and the literal text <|endoftext|>
becomes GPT-2's special token 50256. With "-" the prompt is read from stdin and one trailing newline
is removed. Put "--" before a prompt that starts with "-" or is the word "pull", "convert", "steer", "serve",
"batch", "models", "train-lens" or "rpc-server".

Token texts are shown exactly; bytes that are not valid UTF-8 on their own appear as \\xNN, and a
literal backslash as \\\\. The table is colored on a terminal unless NO_COLOR is set (FORCE_COLOR forces it).

Exit codes:
  0  success
  1  runtime error (model cannot be found, downloaded or loaded, inference failed)
  2  usage error (bad option or value, missing prompt)
`;
