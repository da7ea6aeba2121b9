"""Readers for labeled review data: one function per file format, all returning ``LabeledData``.

Users bring review sets in the shapes they were published in (Yelp CSVs, Zhang et al.'s polarity CSVs, the
aclImdb tarball, fastText lines, UCI tab files, one-sentence-per-line files...), so the trainer reads them
as they are instead of asking for a conversion step. Everything here is standard library only: the reader
runs wherever the serving runtime runs (no torch, no pandas).

Design rules:

* Every failure a user can cause is a ``ReviewclfError`` whose one-line message names the file and, where
  known, the line. No ``csv.Error``/``UnicodeDecodeError``/``OSError`` traceback ever escapes.
* Bytes are decoded line by line by ``lines.LineSource`` (shared with the prediction reader), so a decoding
  error names its line, and characters such as U+0085 (NEL, common in Latin-1 data) never split a line;
  the rules for NUL bytes, long lines, quotes, headers, UTF-16 and line ends are that core's, not repeated here.
* ``on_error="skip"`` skips bad rows and counts them; rows whose label the label map does not name are
  dropped and counted separately: dropping is a choice (e.g. 3-star reviews for polarity), not an error.
* Archives (``.zip`` of one file, ``.gz``, aclImdb ``.tar.gz``) are streamed, never extracted to disk.
"""

from __future__ import annotations

import re
import sys
import tarfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import ReviewclfError, located
from .label_map import lookup_label
from .lines import LineSource, check_options, strip_line_end
from .opener import inner_name, open_input, read_errors
from .records import TEXT_COLUMNS, refuse_duplicates, require_column


def _read_errors(path: Path):  # noqa: ANN202
    return read_errors(path, " (only the aclimdb format reads directories)")

TextSink = Callable[[str], None]
FORMATS = ("csv", "tsv", "zhang", "book", "jsonl", "fasttext", "tabbed", "aclimdb", "lines", "parquet")

LABEL_COLUMNS = ("label", "stars", "rating", "sentiment", "class")
SPLITS = ("train", "val", "test")
LINES_SUFFIXES = (".0", ".1", ".pos", ".neg")

_FASTTEXT_PREFIX = "__label__"


@dataclass
class LabeledData:
    """Texts with their label names, and the split of each row when the file defines one."""

    texts: list[str]
    labels: list[str]
    splits: list[str] | None
    dropped: int = 0
    skipped: int = 0


@dataclass
class _Job(LineSource):
    """One file being read: the options, the rows collected so far (and, inherited, the bad-row policy)."""

    text_column: str | None = None
    label_column: str | None = None
    label_map: dict[str, str] | None = None
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    splits: list[str] = field(default_factory=list)
    has_splits: bool = False
    dropped: int = 0
    sink: TextSink | None = None  # where the texts go instead of ``texts`` (a spool on disk)

    def add(self, line: int | None, text: str, label: str, split: str | None = None) -> None:
        label = label.strip()
        if not label:
            self.bad(line, "empty label")
            return
        if self.label_map is not None:
            mapped = lookup_label(label, self.label_map)
            if mapped is None:
                self.dropped += 1
                return
            label = mapped
        if self.sink is None:
            self.texts.append(text)
        else:
            self.sink(text)
        # interned: a file of a million rows repeats a few label and split names, not a million strings
        self.labels.append(sys.intern(label))
        self.splits.append(sys.intern(split or ""))

    def result(self) -> LabeledData:
        splits = self.splits if self.has_splits and all(s in SPLITS for s in self.splits) else None
        return LabeledData(list(self.texts), list(self.labels), splits, self.dropped, self.skipped)


def _suffix(name: str) -> str:
    return PurePosixPath(name).suffix.lower()


_ZHANG_START = re.compile(r'^"\d+","')
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def detect_format(path: Path, encoding: str = "utf-8") -> str:
    """Guess a file's format from its name and its first non-empty line (after unpacking .zip/.gz).

    In order:

    1. a directory, ``.tar``, ``.tar.gz`` or ``.tgz`` -> ``aclimdb``; ``.parquet`` -> ``parquet``;
    2. ``.jsonl`` / ``.ndjson`` -> ``jsonl``;
    3. suffix ``.0``/``.1``/``.pos``/``.neg`` (Shen/Pang-Lee/Hu-Liu) -> ``lines``: the suffix is the label;
    4. first line starts with ``__label__`` -> ``fasttext``;
    5. first line contains ``rating,review,split`` -> ``book``;
    6. first line starts with ``"<digits>","`` -> ``zhang`` (headerless, class first);
    7. ``.tsv`` -> ``tsv``;
    8. first line has a TAB: ends in TAB + a number (``...\\t0``) -> ``tabbed`` (headerless UCI),
       otherwise a header -> ``tsv``;
    9. anything else -> ``csv``.

    The ``format=`` argument (``--format``) overrides all of this.
    """
    path = Path(path)
    with _read_errors(path):
        lower = path.name.lower()
        if path.is_dir() or lower.endswith((".tar", ".tar.gz", ".tgz")):
            return "aclimdb"
        if lower.endswith(".parquet"):
            return "parquet"
        inner = inner_name(path)
        suffix = _suffix(inner)
        if suffix in (".jsonl", ".ndjson"):
            return "jsonl"
        if suffix in LINES_SUFFIXES:
            return "lines"
        first = ""
        with open_input(path) as (stream, _):  # read as the reader will: capped, recoded, line ends mended
            for _, line in LineSource(path, encoding, "skip").lines(stream):
                first = strip_line_end(line)
                if first.strip():
                    break
        if first.startswith(_FASTTEXT_PREFIX):
            return "fasttext"
        if "rating,review,split" in first.replace('"', "").lower():
            return "book"
        if _ZHANG_START.match(first):
            return "zhang"
        if suffix == ".tsv":
            return "tsv"
        if "\t" in first:
            return "tabbed" if _NUMBER.match(first.rsplit("\t", 1)[1].strip()) else "tsv"
        return "csv"


def _lines(job: _Job) -> Iterator[tuple[int, str]]:
    """The file's lines, numbered and decoded (bad ones raise or are marked, see ``LineSource.decode``)."""
    with open_input(job.path) as (stream, _):
        yield from job.lines(stream)


def _read_csv(job: _Job, *, delimiter: str = ",", need_split: bool = False) -> None:
    """A delimited file with a header row (csv, tsv, and the book's csv with a ``split`` column).

    Quoted fields may span lines. A ``split`` column whose values are all train/val/test gives
    ``splits``; the book format requires one.
    """
    header: list[str] | None = None
    text_at = label_at = split_at = -1
    for start, row in job.csv_rows(_lines(job), delimiter):
        blank = not row or (len(row) == 1 and not row[0].strip())
        if header is None and (not blank or job.last_bad_line >= start):
            header = job.header(start, row)
            text_at = require_column(job.path, start, header, job.text_column, TEXT_COLUMNS, "text")
            label_at = require_column(job.path, start, header, job.label_column, LABEL_COLUMNS, "label")
            folded = [name.lower() for name in header]
            if "split" in folded:
                split_at = folded.index("split")
                refuse_duplicates(job.path, start, header, [header[split_at]])
                job.has_splits = True
            elif need_split:
                raise located(job.path, start, f"no 'split' column; the columns are: {', '.join(header)}")
            continue
        if job.last_bad_line >= start:
            job.bad(start, "bad line")
            continue
        if blank or header is None:
            continue
        if len(row) != len(header):
            job.bad(start, f"expected {len(header)} fields, found {len(row)}")
            continue
        split = row[split_at].strip().lower() if split_at >= 0 else None
        if need_split and split not in SPLITS:
            job.bad(start, f"split {row[split_at]!r} is not one of {', '.join(SPLITS)}")
            continue
        job.add(start, row[text_at], row[label_at], split)


def _read_zhang(job: _Job) -> None:
    """Zhang et al. (2015) headerless CSV: ``"class","text"`` or ``"class","title","description"``.

    Their files escape newlines inside the text as a literal backslash-n; title and description are joined
    with a space.
    """
    for start, row in job.csv_rows(_lines(job), ","):
        if job.last_bad_line >= start:
            job.bad(start, "bad line")
            continue
        if not row:
            continue
        if len(row) not in (2, 3):
            job.bad(start, f"expected 2 or 3 fields (class, text), found {len(row)}")
            continue
        parts = (part.replace("\\n", "\n").strip() for part in row[1:])
        job.add(start, " ".join(part for part in parts if part), row[0])


def _read_jsonl(job: _Job) -> None:
    """One JSON object per line; fields named like csv columns. Blank lines are ignored."""
    text_key = label_key = None
    for number, record in job.json_objects(_lines(job)):
        if text_key is None or label_key is None:
            fields = list(record)
            text_key = fields[require_column(job.path, number, fields, job.text_column, TEXT_COLUMNS, "text")]
            label_key = fields[require_column(job.path, number, fields, job.label_column, LABEL_COLUMNS, "label")]
        text, label = record.get(text_key), record.get(label_key)
        if not isinstance(text, str):
            job.bad(number, f"field {text_key!r} is missing or not a string")
        elif isinstance(label, bool) or not isinstance(label, (str, int, float)):
            job.bad(number, f"field {label_key!r} is missing or not a string or number")
        else:
            job.add(number, text, str(label))


def _read_fasttext(job: _Job) -> None:
    """fastText lines, ``__label__X text``: as in fastText, any ``__label__`` token is a label; first wins."""
    for number, line in job.good_lines(_lines(job)):
        tokens = line.split()
        labels = [t[len(_FASTTEXT_PREFIX) :] for t in tokens if t.startswith(_FASTTEXT_PREFIX)]
        if not labels:
            job.bad(number, f"no {_FASTTEXT_PREFIX} label")
            continue
        job.add(number, " ".join(t for t in tokens if not t.startswith(_FASTTEXT_PREFIX)), labels[0])


def _read_tabbed(job: _Job) -> None:
    """Headerless ``text<TAB>label`` lines (UCI sentiment sentences).

    Split on the last TAB and do no quote processing: the UCI imdb file has unbalanced ``"``.
    """
    for number, line in job.good_lines(_lines(job)):
        text, tab, label = line.rpartition("\t")
        if not tab:
            job.bad(number, "no TAB before the label")
            continue
        job.add(number, text.strip(), label)


def _read_lines(job: _Job) -> None:
    """One text per line, labeled by the file suffix (``sentiment.dev.0`` -> ``0``, ``x.neg`` -> ``neg``)."""
    with _read_errors(job.path):
        label = _suffix(inner_name(job.path))[1:]
    if not label:
        raise located(job.path, None, "the lines format needs a file suffix to use as the label")
    for number, line in job.good_lines(_lines(job)):
        job.add(number, line.strip(), label)


_IMDB_SPLITS = ("train", "test")
_IMDB_LABELS = ("neg", "pos")


def _imdb_key(split: str, label: str, name: str) -> tuple[int, str, int, str]:
    """Sort key: split (train first), label, numeric review id (file names are ``<id>_<stars>.txt``)."""
    head = name.split("_", 1)[0]
    return (_IMDB_SPLITS.index(split), label, int(head) if head.isdigit() else -1, name)


def _read_aclimdb(job: _Job) -> None:
    """The aclImdb layout, ``{train,test}/{pos,neg}/<id>_<stars>.txt``, as a directory or a tarball.

    The tarball is read in one sequential pass (stream mode), never extracted. ``train/unsup`` has no
    labels and is ignored. Rows are sorted by split, label and id so every read gives the same order.
    """
    found: list[tuple[tuple[int, str, int, str], str, str, str]] = []

    def take(parts: Sequence[str], data: bytes, where: str) -> None:
        split, label, name = parts[-3], parts[-2], parts[-1]
        if split not in _IMDB_SPLITS or label not in _IMDB_LABELS or not name.endswith(".txt"):
            return
        try:
            text = data.decode(job.encoding)
        except UnicodeDecodeError as exc:
            job.bad(None, f"{where}: cannot decode byte 0x{data[exc.start]:02x} as {job.encoding}")
            return
        found.append((_imdb_key(split, label, name), text.strip(), label, split))

    if job.path.is_dir():
        root = job.path / "aclImdb" if (job.path / "aclImdb").is_dir() else job.path
        for split in _IMDB_SPLITS:
            for label in _IMDB_LABELS:
                for file in (root / split / label).glob("*.txt"):
                    take((split, label, file.name), file.read_bytes(), str(file.relative_to(job.path)))
    else:
        with tarfile.open(job.path, mode="r|*") as archive:
            for member in archive:
                parts = PurePosixPath(member.name).parts
                if member.isfile() and len(parts) >= 3 and parts[-2] in _IMDB_LABELS:
                    stream = archive.extractfile(member)
                    if stream is not None:
                        take(parts, stream.read(), member.name)
    if not found and job.path.is_dir():  # most likely not an aclImdb folder at all: say what was looked for
        raise located(job.path, None, "is a directory without aclImdb reviews ({train,test}/{pos,neg}/*.txt; "
                                      "only the aclimdb format reads directories)")
    found.sort(key=lambda item: item[0])
    job.has_splits = True
    for _, text, label, split in found:
        job.add(None, text, label, split)


def _read_parquet(job: _Job) -> None:
    from .parquet import read_labeled_parquet  # pyarrow is imported only when a Parquet file is read

    read_labeled_parquet(job)


_READERS: dict[str, Callable[[_Job], None]] = {
    "csv": _read_csv,
    "tsv": partial(_read_csv, delimiter="\t"),
    "book": partial(_read_csv, need_split=True),
    "zhang": _read_zhang,
    "jsonl": _read_jsonl,
    "fasttext": _read_fasttext,
    "tabbed": _read_tabbed,
    "aclimdb": _read_aclimdb,
    "lines": _read_lines,
    "parquet": _read_parquet,
}


def read_labeled(
    path: str | Path,
    *,
    format: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    label_map: dict[str, str] | None = None,
    encoding: str = "utf-8",
    on_error: str = "raise",
    sink: TextSink | None = None,
) -> LabeledData:
    """Read one labeled file (or aclImdb directory) in the given or detected format.

    ``text_column``/``label_column`` apply to csv, tsv, book and jsonl and are ignored by the formats whose
    layout fixes them. ``on_error="skip"`` skips and counts bad rows instead of raising on the first one.
    ``sink``: called with each kept text, in row order, instead of collecting the texts (``texts`` is then
    empty), so a file larger than memory streams through.
    """
    path = Path(path)
    check_options(encoding, on_error)
    fmt = (format or detect_format(path, encoding)).lower()
    if fmt not in _READERS:
        raise ReviewclfError(f"unknown format {format!r}; the formats are: {', '.join(FORMATS)}")
    job = _Job(path, encoding, on_error, text_column=text_column, label_column=label_column, label_map=label_map,
               sink=sink)
    with _read_errors(path):
        _READERS[fmt](job)
    if not job.labels:
        notes = [f"{job.dropped} dropped by the label map"] if job.dropped else []
        notes += [f"{job.skipped} bad rows skipped"] if job.skipped else []
        raise located(path, None, "no labeled rows" + (f" ({', '.join(notes)})" if notes else ""))
    return job.result()


def read_many(paths: Sequence[str | Path], **kwargs: Any) -> LabeledData:
    """Read several files with the same options and concatenate them in order.

    ``splits`` is kept only when every file defines one; otherwise a split would be missing for some rows.
    """
    if not paths:
        raise ReviewclfError("no input files given")
    parts = [read_labeled(p, **kwargs) for p in paths]
    splits = None
    if all(part.splits is not None for part in parts):
        splits = [s for part in parts for s in part.splits or []]
    return LabeledData(
        texts=[t for part in parts for t in part.texts],
        labels=[label for part in parts for label in part.labels],
        splits=splits,
        dropped=sum(part.dropped for part in parts),
        skipped=sum(part.skipped for part in parts),
    )
