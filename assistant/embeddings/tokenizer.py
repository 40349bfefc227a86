"""The BERT WordPiece tokenizer of all-MiniLM-L6-v2, built from a shipped vocabulary with `tokenizers`."""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

VOCAB_DIR = Path(__file__).resolve().parent / "vocab"


class TokenizerError(RuntimeError):
    """The vocabulary file is missing or unusable."""


def vocab_path(name: str) -> Path:
    """The shipped vocabulary file with this name."""
    return VOCAB_DIR / name


def wordpiece_tokenizer(vocab_file: Path, max_tokens: int) -> Tokenizer:
    """Lower-casing BERT tokenizer ([CLS] text [SEP]), cut to `max_tokens` pieces, padded per batch."""
    # The same pipeline as the model's upstream tokenizer.json (BertNormalizer with lowercase and
    # accent stripping, BertPreTokenizer, WordPiece with ##), rebuilt here from vocab.txt alone.
    try:
        lines = Path(vocab_file).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenizerError(f"cannot read the tokenizer vocabulary {vocab_file}: {exc}") from exc
    vocab = {token: index for index, token in enumerate(lines)}
    missing = [t for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]") if t not in vocab]
    if len(vocab) < 1000 or missing:
        raise TokenizerError(f"the tokenizer vocabulary {vocab_file} is damaged ({len(vocab)} entries"
                             f"{', missing ' + ', '.join(missing) if missing else ''}); reinstall Biseo")
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                      strip_accents=None, lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.enable_padding(pad_id=vocab["[PAD]"], pad_token="[PAD]")
    return tokenizer
