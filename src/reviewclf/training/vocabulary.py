"""Fit the WordLevel tokenizer on the training split; the whole text pipeline is saved in tokenizer.json."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers

from ..runtime.encoding import PAD_TOKEN, UNK_TOKEN, TextEncoder
from ..runtime.fast_encoding import APOSTROPHES, HTML_BREAK


def new_tokenizer(model: models.Model | None = None) -> Tokenizer:
    """The normalizer and pre-tokenizer every model uses: HTML breaks to spaces, lowercase, apostrophes out;
    then words and runs of punctuation (``\\w+|[^\\w\\s]+``, whitespace dropped). ``model`` defaults to an
    empty WordLevel model (for training).

    This pipeline is the runtime's speed limit on long reviews, so it holds only what pays:
    * no NFKC: folding full-width letters and ligatures (rare in reviews) costs much of the throughput and
      gains no accuracy.
    * the built-in ``Whitespace`` pre-tokenizer (the ``regex`` crate) rather than a ``Split`` (Oniguruma,
      slower); deleting the apostrophes keeps contractions whole for it, which a ``Split`` pattern had done.
    ``runtime.fast_encoding`` recognises exactly this pipeline: changing it here turns the fast path off.
    """
    tokenizer = Tokenizer(model or models.WordLevel(unk_token=UNK_TOKEN))
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.Replace(Regex(HTML_BREAK), " "), normalizers.Lowercase()]
        + [normalizers.Replace(apostrophe, "") for apostrophe in APOSTROPHES]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return tokenizer


# texts per call into the trainer: a list per call costs the tokenizers binding less than a call per text
TRAINER_BATCH = 1000


def in_batches(texts: Iterable[str], size: int = TRAINER_BATCH) -> Iterator[list[str]]:
    """``texts`` as lists of up to ``size``, in order (a stream stays a stream)."""
    stream = iter(texts)
    while batch := list(islice(stream, size)):
        yield batch


def fit_encoder(
    texts: Iterable[str], min_freq: int, max_length: int, max_vocab: int | None = None, length: int | None = None
) -> TextEncoder:
    """A tokenizer whose vocabulary is the words seen ``min_freq`` times in ``texts`` (the training split,
    streamed: ``length``, when ``texts`` has no ``len``, is how many there are).

    ``[PAD]`` (0) and ``[UNK]`` (1) are entries of the vocabulary only, not added tokens: tokenizers matches an
    added token wherever the raw text spells it (``x[PAD]y`` gave a padding id inside a row), while no text
    reaches a vocabulary entry with capitals and brackets (it becomes the tokens ``[``, ``pad``, ``]``).
    """
    counting = new_tokenizer()
    trainer = trainers.WordLevelTrainer(
        min_frequency=max(min_freq, 1),
        vocab_size=max_vocab if max_vocab else 1 << 30,
        special_tokens=[PAD_TOKEN, UNK_TOKEN],
        show_progress=False,
    )
    counting.train_from_iterator(in_batches(texts), trainer=trainer,
                                 length=length if length is not None else len(texts))
    # The trainer registers its special tokens as added tokens too; the saved tokenizer takes its vocabulary only.
    vocab = counting.get_vocab(with_added_tokens=False)
    tokenizer = new_tokenizer(models.WordLevel(vocab, unk_token=UNK_TOKEN))
    tokenizer.enable_truncation(max_length=max_length)
    return TextEncoder(tokenizer)
