"""Build a tiny, deterministic Whisper model in CTranslate2 format for tests.

No model can be downloaded in CI, so tests and benchmarks build their own: a
64-wide Whisper (1 encoder layer, 2 decoder layers) whose decoder ignores the
audio and always writes ``word`` followed by ``<|endoftext|>``. It loads in faster-whisper like any
converted checkpoint (``WhisperModel(path, device="cpu", compute_type="int8")``,
``BatchedInferencePipeline``, language detection, word timestamps).

How the decoder is made deterministic
-------------------------------------
Every decoder sublayer has its output projection zeroed, and the decoder
position encodings are zero, so the hidden state reaching the final layer norm
is just the embedding of the *current input token*. The model is therefore a
bigram table: the next token depends only on the previous one, never on the
audio, the prompt length or the position. Each embedding row is a basis vector
``e_k`` (``k`` = "which token comes next"), the final layer norm maps it to a
fixed vector peaked at ``k`` (~7.9 there, ~-0.13 elsewhere, whatever the
scale), and the output projection row of the wanted next token is
``_LOGIT_SCALE * e_k``. That gives the wanted token a logit margin of ~32 over
everything else, far beyond int8 quantisation noise, so greedy and beam search
agree. The transitions are::

    <|startoftranscript|>             -> <|en|>    (language detection)
    <|transcribe|>, <|translate|>     -> <|0.00|>  (first timestamp, if enabled)
    <|notimestamps|>, <|0.00|>        -> piece 1   (first text token)
    piece i                           -> piece i+1
    last piece and every other token  -> <|endoftext|>

(for English-only builds <|startoftranscript|> goes to <|0.00|> instead.)

Because only the last prompt token matters, hotwords and initial prompts
(``<|startofprev|> ...`` prefixes) do not change the output. Sending every
other token to ``<|endoftext|>`` also makes beam search's spare beams finish
at once instead of running to ``max_length``.

The word is stored as one vocabulary token per pre-token (``"hello"`` -> one
token, ``"hello world"`` -> ``hello``, ``Ġworld``), so repeated letters are
no problem for the bigram table; repeated *pre-tokens* are (``"ha ha ha"``
has `` ha`` twice) and are rejected.

Usage::

    build_tiny_model(tmp_path / "tiny")            # -> Path to the model folder
    python tests/support/tiny_model.py OUT_DIR [--word hello]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

# Bump whenever the produced files change, so stale cached builds are rebuilt.
BUILDER_VERSION = 1

STAMP_FILE = "tiny_model.json"
MODEL_FILES = (
    "model.bin",
    "config.json",
    "vocabulary.json",
    "tokenizer.json",
    "preprocessor_config.json",
)

D_MODEL = 64
NUM_ENCODER_HEADS = 1  # encoder self-attention over 1500 frames is the main CPU cost
NUM_DECODER_HEADS = 4
FFN_DIM = 256
NUM_ENCODER_LAYERS = 1  # the audio path only has to run, not to mean anything
NUM_DECODER_LAYERS = 2
AUDIO_CTX = 1500  # encoder frames after the stride-2 conv (30 s of audio)
TEXT_CTX = 448  # faster-whisper's max_length
NUM_TIMESTAMPS = 1501  # <|0.00|> .. <|30.00|>

# Logit given to the wanted next token, per unit of the layer-norm output
# (~7.9): a margin of ~32 nats, so P(wanted) ~ 1 - 1e-9 even over 51k tokens.
_LOGIT_SCALE = 4.0

# Whisper's language tokens in Whisper's own id order (not alphabetical);
# large-v3 added "yue" at the end. Same set as faster_whisper.tokenizer._LANGUAGE_CODES.
WHISPER_LANGUAGES: Tuple[str, ...] = (
    "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl",
    "ar", "sv", "it", "id", "hi", "fi", "vi", "he", "uk", "el", "ms", "cs", "ro",
    "da", "hu", "ta", "no", "th", "ur", "hr", "bg", "lt", "la", "mi", "ml", "cy",
    "sk", "te", "fa", "lv", "bn", "sr", "az", "sl", "kn", "et", "mk", "br", "eu",
    "is", "hy", "ne", "mn", "bs", "kk", "sq", "sw", "gl", "mr", "pa", "si", "km",
    "sn", "yo", "so", "af", "oc", "ka", "be", "tg", "sd", "gu", "am", "yi", "lo",
    "uz", "fo", "ht", "ps", "tk", "nn", "mt", "sa", "lb", "my", "bo", "tl", "mg",
    "as", "tt", "haw", "ln", "ha", "ba", "jw", "su", "yue",
)  # fmt: skip

# Total vocabulary sizes of real checkpoints; we use the same layout so the
# special tokens sit at the ids real models use.
_MULTILINGUAL_VOCAB_SIZE = 51866  # large-v3 layout: 100 languages incl. yue
_ENGLISH_VOCAB_SIZE = 51864  # *.en layout
# Real multilingual vocabularies hold an empty-string token right before
# <|endoftext|> (id 50256); *.en ones do not. The installed CTranslate2 (4.8.5)
# sets `is_multilingual` from exactly that: `to_id("") != unk_id` (read from
# WhisperReplica's constructor in libctranslate2; upstream releases compared the
# vocabulary size instead, which this layout also satisfies).
_MULTILINGUAL_MARKER = ""


def _special_tokens() -> List[str]:
    """Special tokens from <|endoftext|> on, in Whisper's order."""
    return (
        ["<|endoftext|>", "<|startoftranscript|>"]
        + ["<|%s|>" % code for code in WHISPER_LANGUAGES]
        + [
            "<|translate|>",
            "<|transcribe|>",
            "<|startoflm|>",
            "<|startofprev|>",
            "<|nospeech|>",
            "<|notimestamps|>",
        ]
        # faster-whisper and CTranslate2 both take timestamp_begin = notimestamps + 1.
        + ["<|%.2f|>" % (i * 0.02) for i in range(NUM_TIMESTAMPS)]
    )


def _word_pieces(word: str) -> List[str]:
    """Split ``word`` the way the ByteLevel pre-tokenizer does (byte-level strings)."""
    from tokenizers import pre_tokenizers

    pre = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    pieces = [piece for piece, _ in pre.pre_tokenize_str(word)]
    if not pieces:
        raise ValueError("word must contain at least one non-empty token")
    if len(set(pieces)) != len(pieces):
        # The decoder is a bigram table: the same token cannot be followed by
        # two different tokens.
        raise ValueError("word must not repeat a token: %r -> %r" % (word, pieces))
    return pieces


def _base_vocabulary(
    pieces: Sequence[str], size: int, multilingual: bool
) -> Tuple[List[str], List[Tuple[str, str]]]:
    """Ordinary (non-special) tokens and BPE merges, padded to ``size`` tokens.

    The 256 byte tokens come first, then every prefix of each word piece (so
    chained merges make ``tokenizer.encode(word)`` give the piece tokens, as
    hotword/initial-prompt encoding would), then unreachable fillers that only
    exist to put the special tokens at the ids real checkpoints use.
    """
    from tokenizers import pre_tokenizers

    tokens: List[str] = sorted(pre_tokenizers.ByteLevel.alphabet())
    known = set(tokens)
    merges: List[Tuple[str, str]] = []
    for piece in pieces:
        for end in range(2, len(piece) + 1):
            prefix = piece[:end]
            if prefix not in known:
                merges.append((piece[: end - 1], piece[end - 1]))
                tokens.append(prefix)
                known.add(prefix)
    reserved = 1 if multilingual else 0
    if len(tokens) + reserved > size:
        raise ValueError("word is too long for the tiny vocabulary")
    tokens.extend("<|filler%05d|>" % i for i in range(size - reserved - len(tokens)))
    if multilingual:
        tokens.append(_MULTILINGUAL_MARKER)
    return tokens, merges


def _build_tokenizer(base: List[str], merges: List[Tuple[str, str]], specials: List[str]):
    """A byte-level BPE tokenizer whose ids match the CTranslate2 vocabulary."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    bpe = models.BPE(vocab={tok: i for i, tok in enumerate(base)}, merges=merges)
    tokenizer = Tokenizer(bpe)
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    # Added tokens get consecutive ids after the model vocabulary, i.e. the
    # special tokens land at len(base) + i exactly as in the CT2 vocabulary.
    tokenizer.add_special_tokens(
        [AddedToken(tok, special=True, normalized=False) for tok in specials]
    )
    return tokenizer


def _sinusoids(length: int, channels: int) -> np.ndarray:
    """Whisper's fixed encoder position encodings."""
    log_timescale = np.log(10000) / (channels // 2 - 1)
    inv = np.exp(-log_timescale * np.arange(channels // 2))
    scaled = np.arange(length)[:, None] * inv[None, :]
    return np.concatenate([np.sin(scaled), np.cos(scaled)], axis=1).astype(np.float32)


class _Weights:
    """Seeded random weights, so every build writes identical bytes."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def rand(self, *shape: int, scale: float = 0.02) -> np.ndarray:
        return (self.rng.standard_normal(shape) * scale).astype(np.float32)

    @staticmethod
    def zeros(*shape: int) -> np.ndarray:
        return np.zeros(shape, dtype=np.float32)

    @staticmethod
    def set_layer_norm(spec) -> None:
        spec.gamma = np.ones(D_MODEL, dtype=np.float32)
        spec.beta = np.zeros(D_MODEL, dtype=np.float32)

    def set_linear(self, spec, out_dim: int, in_dim: int, zero: bool = False) -> None:
        # A zero output projection makes a whole sublayer a no-op on the
        # residual stream, while its attention still computes real weights
        # (word-timestamp alignment reads the cross-attention heads).
        spec.weight = self.zeros(out_dim, in_dim) if zero else self.rand(out_dim, in_dim)
        spec.bias = self.zeros(out_dim)

    def set_ffn(self, spec, zero_output: bool) -> None:
        self.set_layer_norm(spec.layer_norm)
        self.set_linear(spec.linear_0, FFN_DIM, D_MODEL)
        self.set_linear(spec.linear_1, D_MODEL, FFN_DIM, zero=zero_output)


def _decoder_tables(
    vocab_size: int, ids: Dict[str, int], piece_ids: List[int], multilingual: bool
) -> Tuple[np.ndarray, np.ndarray]:
    """Embedding and output-projection matrices encoding the bigram table."""
    sot = ids["<|startoftranscript|>"]
    ts0 = ids["<|0.00|>"]
    # With timestamps the prompt ends with the task token (or with
    # <|startoftranscript|> for *.en models) and only timestamps up to
    # max_initial_timestamp may follow: send it to <|0.00|> so that step is
    # certain too (a flat choice would cost log(1/51) and trip faster-whisper's
    # log_prob_threshold fallback). Without timestamps the prompt ends with
    # <|notimestamps|>, and the text starts right after it or after <|0.00|>.
    task_tokens = [ids["<|transcribe|>"], ids["<|translate|>"]]
    transitions: List[Tuple[List[int], int]] = []
    if multilingual:
        # Language detection reads the logits right after <|startoftranscript|>.
        transitions.append(([sot], ids["<|en|>"]))
    else:
        task_tokens.append(sot)
    transitions.append((task_tokens, ts0))
    transitions.append(([ids["<|notimestamps|>"], ts0], piece_ids[0]))
    transitions += [([prev], nxt) for prev, nxt in zip(piece_ids, piece_ids[1:])]
    eot_class = len(transitions)
    if eot_class + 1 > D_MODEL:
        raise ValueError("word has too many tokens for the tiny model")

    basis = np.eye(D_MODEL, dtype=np.float32)
    # Default: every token is followed by <|endoftext|> (last piece included).
    embeddings = np.tile(basis[eot_class], (vocab_size, 1))
    projection = np.zeros((vocab_size, D_MODEL), dtype=np.float32)
    projection[ids["<|endoftext|>"]] = _LOGIT_SCALE * basis[eot_class]
    for k, (sources, target) in enumerate(transitions):
        embeddings[sources] = basis[k]
        projection[target] = _LOGIT_SCALE * basis[k]
    return embeddings, projection


def _build_spec(n_mels: int, vocab: List[str], embeddings: np.ndarray, projection: np.ndarray):
    """Fill a CTranslate2 WhisperSpec with the tiny weights."""
    from ctranslate2.specs import whisper_spec

    spec = whisper_spec.WhisperSpec(
        NUM_ENCODER_LAYERS, NUM_ENCODER_HEADS, NUM_DECODER_LAYERS, NUM_DECODER_HEADS
    )
    w = _Weights(seed=0)

    enc = spec.encoder
    # Conv weights are (out, in, kernel); CTranslate2 reads n_mels from conv1.
    enc.conv1.weight = w.rand(D_MODEL, n_mels, 3, scale=0.1)
    enc.conv1.bias = w.zeros(D_MODEL)
    enc.conv2.weight = w.rand(D_MODEL, D_MODEL, 3, scale=0.1)
    enc.conv2.bias = w.zeros(D_MODEL)
    enc.position_encodings.encodings = _sinusoids(AUDIO_CTX, D_MODEL)
    w.set_layer_norm(enc.layer_norm)
    for layer in enc.layer:
        att = layer.self_attention
        w.set_layer_norm(att.layer_norm)
        w.set_linear(att.linear[0], 3 * D_MODEL, D_MODEL)  # fused q, k, v
        w.set_linear(att.linear[1], D_MODEL, D_MODEL)
        w.set_ffn(layer.ffn, zero_output=False)

    dec = spec.decoder
    dec.embeddings.weight = embeddings
    # Zero positions: the output must not depend on where the word starts.
    dec.position_encodings.encodings = w.zeros(TEXT_CTX, D_MODEL)
    w.set_layer_norm(dec.layer_norm)
    dec.projection.weight = projection
    for layer in dec.layer:
        self_att = layer.self_attention
        w.set_layer_norm(self_att.layer_norm)
        w.set_linear(self_att.linear[0], 3 * D_MODEL, D_MODEL)  # fused q, k, v
        w.set_linear(self_att.linear[1], D_MODEL, D_MODEL, zero=True)
        cross = layer.attention
        w.set_layer_norm(cross.layer_norm)
        w.set_linear(cross.linear[0], D_MODEL, D_MODEL)  # q
        w.set_linear(cross.linear[1], 2 * D_MODEL, D_MODEL)  # fused k, v (from audio)
        w.set_linear(cross.linear[2], D_MODEL, D_MODEL, zero=True)
        w.set_ffn(layer.ffn, zero_output=True)

    spec.register_vocabulary(vocab)
    return spec


def _params(word: str, n_mels: int, multilingual: bool) -> dict:
    return {
        "builder_version": BUILDER_VERSION,
        "word": word,
        "n_mels": n_mels,
        "multilingual": multilingual,
    }


def _is_complete(out_dir: Path, params: dict) -> bool:
    stamp = out_dir / STAMP_FILE
    try:
        if json.loads(stamp.read_text(encoding="utf-8")) != params:
            return False
    except (OSError, ValueError):
        return False
    return all((out_dir / name).is_file() for name in MODEL_FILES)


def build_tiny_model(
    out_dir: Path, word: str = "hello", n_mels: int = 80, multilingual: bool = True
) -> Path:
    """Write model.bin, config.json, vocabulary.json, tokenizer.json and
    preprocessor_config.json into out_dir and return out_dir. Idempotent: if out_dir already
    holds a complete model built with the same parameters, return it without rebuilding."""
    out_dir = Path(out_dir)
    params = _params(word, n_mels, multilingual)
    if _is_complete(out_dir, params):
        return out_dir

    pieces = _word_pieces(word)
    specials = _special_tokens()
    total = _MULTILINGUAL_VOCAB_SIZE if multilingual else _ENGLISH_VOCAB_SIZE
    base, merges = _base_vocabulary(pieces, total - len(specials), multilingual)
    vocab = base + specials
    ids = {tok: i for i, tok in enumerate(vocab)}
    assert len(ids) == len(vocab) == total, "duplicate tokens in the vocabulary"
    piece_ids = [ids[p] for p in pieces]

    tokenizer = _build_tokenizer(base, merges, specials)
    embeddings, projection = _decoder_tables(total, ids, piece_ids, multilingual)
    spec = _build_spec(n_mels, vocab, embeddings, projection)

    config = spec.config
    # Ids handed to CTranslate2: the converter takes these from the HF
    # generation config. `suppress_ids` is only used when -1 reaches CT2 directly
    # (faster-whisper expands -1 itself); `suppress_ids_begin` backs suppress_blank.
    config.suppress_ids = []
    config.suppress_ids_begin = [ids["Ġ"], ids["<|endoftext|>"]]
    config.lang_ids = [ids["<|%s|>" % code] for code in WHISPER_LANGUAGES] if multilingual else []
    # Default the converter uses when a checkpoint names none: every head of
    # the second half of the decoder layers.
    config.alignment_heads = [
        [layer, head]
        for layer in range(NUM_DECODER_LAYERS // 2, NUM_DECODER_LAYERS)
        for head in range(NUM_DECODER_HEADS)
    ]

    spec.validate()
    # Alias the many identical zero matrices and store int8 weights (~8 MB
    # instead of ~28 MB); one-hot rows quantise exactly, and CTranslate2 converts
    # on load for any other compute_type.
    spec.optimize(quantization="int8")

    preprocessor = {
        "chunk_length": 30,
        "feature_extractor_type": "WhisperFeatureExtractor",
        "feature_size": n_mels,
        "hop_length": 160,
        "n_fft": 400,
        "n_samples": 480000,
        "nb_max_frames": 3000,
        "padding_side": "right",
        "padding_value": 0.0,
        "return_attention_mask": False,
        "sampling_rate": 16000,
    }

    out_dir.mkdir(parents=True, exist_ok=True)
    # Build in a private folder and move files in one by one (stamp last): a
    # crashed build never looks complete, and concurrent builders (e.g. xdist
    # workers) write identical bytes, so racing replaces are harmless.
    tmp = Path(tempfile.mkdtemp(prefix=".tiny-build-", dir=out_dir))
    try:
        spec.save(str(tmp))
        tokenizer.save(str(tmp / "tokenizer.json"))
        (tmp / "preprocessor_config.json").write_text(
            json.dumps(preprocessor, indent=2) + "\n", encoding="utf-8"
        )
        (tmp / STAMP_FILE).write_text(json.dumps(params, indent=2) + "\n", encoding="utf-8")
        missing = [name for name in MODEL_FILES if not (tmp / name).is_file()]
        if missing:
            raise RuntimeError("CTranslate2 did not write %s" % ", ".join(missing))
        (out_dir / STAMP_FILE).unlink(missing_ok=True)
        for name in MODEL_FILES + (STAMP_FILE,):
            os.replace(tmp / name, out_dir / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--word", default="hello")
    parser.add_argument("--n-mels", type=int, default=80)
    parser.add_argument("--english-only", action="store_true", help="build a *.en-style model")
    args = parser.parse_args(argv)
    path = build_tiny_model(
        args.out_dir, word=args.word, n_mels=args.n_mels, multilingual=not args.english_only
    )
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
