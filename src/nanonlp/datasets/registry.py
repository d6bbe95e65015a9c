"""The registry of named data sets: what each one is, where its files come from, how to read it.

Every entry records its files (with sha256 and size where known), the canonical public URL of
each file (pinned to the commit the copy in ``shared/data`` came from, so the checksum holds),
its licence, its splits, the kind of record its reader yields and the record counts that the
tests check against. Files that installed packages ship (gensim's test data) are listed with
their package location: they are the offline defaults and need no download.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from nanonlp.datasets import readers as R
from nanonlp.datasets.records import Example, Pair
from nanonlp.datasets.spec import RECORD_KINDS, Dataset, FileSpec  # noqa: F401  (re-exported)
from nanonlp.errors import DataError
from nanonlp.fileio import iter_lines, read_text

#: What a reader gets to find its files: ``get("eng.train") -> Path`` (raises if missing).
Getter = Callable[[str], Path]


def _gh(repo: str, commit: str, path: str) -> str:
    """A commit-pinned raw GitHub URL, so the bytes (and so the checksum) never change."""
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


# ---------------------------------------------------------------------------------------------
# Readers: one function per data set, taking the file getter, the split and options.


def _read_tinyshakespeare(get: Getter, split: str) -> Iterator[str]:
    # nanoGPT's shakespeare_char split: first 90 % of characters train, last 10 % val.
    text = read_text(get("input.txt"))
    cut = int(len(text) * 0.9)
    part = {"all": text, "train": text[:cut], "val": text[cut:]}[split]
    yield from part.splitlines()


def _read_eng_fra(get: Getter, split: str, reverse: bool = False) -> Iterator[Pair]:
    # The tutorial translates French -> English: reverse=True gives (fr, en) pairs.
    yield from R.read_tsv_pairs(f"{get('fra-eng.zip')}::fra.txt", swap=reverse)


_M30K_SPLITS = {
    "train": "train", "val": "val", "test2016": "test_2016_flickr",
    "test2017": "test_2017_flickr", "mscoco2017": "test_2017_mscoco", "test2018": "test_2018_flickr",
}


def _read_multi30k(get: Getter, split: str, src: str = "de", tgt: str = "en") -> Iterator[Pair]:
    stem = _M30K_SPLITS[split]
    yield from R.read_parallel(
        get(f"task1/raw/{stem}.{src}.gz"), get(f"task1/raw/{stem}.{tgt}.gz")
    )


def _read_conll2003(get: Getter, split: str):
    name = {"train": "eng.train", "dev": "eng.testa", "test": "eng.testb"}[split]
    yield from R.read_conll(get(name), scheme="iob1", n_columns=4)


def _read_text8(get: Getter, split: str, words_per_chunk: int = 10_000) -> Iterator[str]:
    if split == "full":
        yield from R.read_word_chunks(f"{get('text8.zip')}::text8", words_per_chunk)
    else:
        yield from R.read_word_chunks(get("text8.head.gz"), words_per_chunk)


def _read_wikitext2(get: Getter, split: str) -> Iterator[str]:
    yield from R.read_lines(get(f"{split}.txt"))


def _read_brown(get: Getter, split: str):
    yield from R.read_brown(get("brown.zip"))


def _read_lee(get: Getter, split: str) -> Iterator[str]:
    yield from R.read_lines(get("lee_background.cor"), skip_empty=True)


def _read_enwiki_sample(get: Getter, split: str) -> Iterator[str]:
    # Parsing the MediaWiki dump takes ~10 s, so the plain text is kept in the user cache
    # (JSON lines, keyed by the dump's size and mtime) after the first read.
    import json

    from nanonlp.datasets.store import cache_root
    from nanonlp.fileio import atomic_write

    path = get("enwiki-sample.xml.bz2")
    stat = path.stat()
    cached = cache_root() / "enwiki_sample" / f"articles-{stat.st_size}-{int(stat.st_mtime)}.jsonl"
    if cached.is_file():
        for _, line in iter_lines(cached):
            yield json.loads(line)
        return
    articles = list(_parse_wiki_dump(path))
    try:
        with atomic_write(cached) as f:
            f.writelines(json.dumps(a) + "\n" for a in articles)
    except OSError:
        pass  # a read-only cache only costs speed
    yield from articles


def _parse_wiki_dump(path: Path) -> Iterator[str]:
    # gensim's own MediaWiki parser strips the markup; redirects and stubs under 20 words
    # are skipped (gensim's WikiCorpus skips short articles the same way).
    import bz2

    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    with bz2.open(path) as f:
        for _title, markup, _pageid in extract_pages(f, filter_namespaces=("0",)):
            # filter_wiki keeps the ''italic'' and '''bold''' quote runs: drop them.
            text = re.sub(r"'{2,}", "", filter_wiki(markup)).strip()
            text = re.sub(r"\n{3,}", "\n\n", text)
            if len(text.split()) >= 20 and not text.upper().startswith("#REDIRECT"):
                yield text


def _read_analogy(get: Getter, split: str):
    yield from R.read_analogies(get(f"questions-{split}.txt"))


# name -> file inside word_similarity/ (gensim's copies first: they are packaged offline)
SIMILARITY_FILES = {
    "wordsim353": "gensim/wordsim353.tsv",
    "simlex999": "gensim/simlex999.txt",
    "ws353": "eval-word-vectors/EN-WS-353-ALL.txt",
    "ws353-rel": "eval-word-vectors/EN-WS-353-REL.txt",
    "ws353-sim": "eval-word-vectors/EN-WS-353-SIM.txt",
    "simlex": "eval-word-vectors/EN-SIMLEX-999.txt",
    "men": "eval-word-vectors/EN-MEN-TR-3k.txt",
    "rw": "eval-word-vectors/EN-RW-STANFORD.txt",
    "mturk287": "eval-word-vectors/EN-MTurk-287.txt",
    "mturk771": "eval-word-vectors/EN-MTurk-771.txt",
    "rg65": "eval-word-vectors/EN-RG-65.txt",
    "mc30": "eval-word-vectors/EN-MC-30.txt",
    "simverb3500": "eval-word-vectors/EN-SimVerb-3500.txt",
    "yp130": "eval-word-vectors/EN-YP-130.txt",
    "verb143": "eval-word-vectors/EN-VERB-143.txt",
}


def _read_similarity(get: Getter, split: str):
    yield from R.read_scored_pairs(get(SIMILARITY_FILES[split]))


def _read_sst2(get: Getter, split: str) -> Iterator[Example]:
    if split == "test":  # GLUE test: unlabelled, columns index<TAB>sentence
        yield from R.read_labelled_tsv(get("test.tsv"), label_column=None)
    else:
        yield from R.read_labelled_tsv(get(f"{split}.tsv"))


def _read_movie_reviews(get: Getter, split: str) -> Iterator[Example]:
    for name, text in R.read_zip_members(get("movie_reviews.zip"), "movie_reviews/", suffix=".txt"):
        _, label, fname = name.split("/")
        yield Example(text, label, fname.removesuffix(".txt"))


def _read_sentence_polarity(get: Getter, split: str) -> Iterator[Example]:
    path = get("sentence_polarity.zip")
    for label in ("pos", "neg"):
        member = f"{path}::sentence_polarity/rt-polarity.{label}"
        for lineno, line in iter_lines(member):
            if line.strip():
                yield Example(line.strip(), label, f"rt-polarity.{label}:{lineno}")


# ---------------------------------------------------------------------------------------------
# The entries.

_NLTK = ("nltk/nltk_data", "5db857e6f7df11eabb5e5665836db9ec8df07e28")
_M30K = ("multi30k/dataset", "a3d2e0d26b56f3846f66a952536ffed4e401d05a")
_GENSIM = ("piskvorky/gensim", "37f90ec121eb7cd401448a947e80953e0c53ccdc")
_EWV = ("mfaruqui/eval-word-vectors", "94b3dd9fdbac7ed08dbee7179cd5ee464acf0594")
_WT2 = ("pytorch/examples", "77f55b912142e11fcfdf5b530231fb9c52f181e8")
_SST2 = ("eyalbd2/Reproducing-AutoPrompt", "6288fb5bec9c572f2492875ae0111df5b6daed11")
_CONLL = ("synalp/NER", "c0ea07c81ec3512b5047dcd804b0ac2b10a3bdfc")

_M30K_SHA = {
    "test_2016_flickr.cs": ("200a4a74cc9560f051924abb9803be008d1908d77f747e9141aeb86dfd2797f1", 22572),
    "test_2016_flickr.de": ("9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8", 22890),
    "test_2016_flickr.en": ("611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9", 21077),
    "test_2016_flickr.fr": ("6d326e188d259fb1d04ac19eae3af956559b3a0b93d7635e56c90987c40c8b90", 22310),
    "test_2017_flickr.de": ("a2c89666db00c495cd8513b9d708d5a3acc205d7de312ef2bf5fb7ebc1540aee", 21471),
    "test_2017_flickr.en": ("76a444ee25172e72695cddb13ae4a3bda59430617be88e0bb46b60504f054074", 19138),
    "test_2017_flickr.fr": ("3ba671ceb2299f3304ffafefea7a833d08632fbaf0ba18546f8a2ec2391af496", 20434),
    "test_2017_mscoco.de": ("799e4854c25d601cb6cb6be29eabe5667734c61ace2f495e03e429031a0bc338", 10230),
    "test_2017_mscoco.en": ("aab300bfb4427697987e02cd0aacd44bfe8aa50456231b6474c08038bbed2b58", 8844),
    "test_2017_mscoco.fr": ("754f3072ba9f124569ba5258b32730fc1d214bbf8e0c6dfb2b74401676220db0", 9751),
    "test_2018_flickr.cs": ("7d0a9db904f94c554a8c58049a9f3a5357c27f46cc3d710d70cb0b4a2585b8c2", 25181),
    "test_2018_flickr.de": ("ddd0130c7d97482dc5197a02141dae8dd79f20f03586c480d675c09a32daf608", 26461),
    "test_2018_flickr.en": ("ef4f4844037d4c5dea75c9a8ed5fd78905967a26f67c255e230cc9780032654d", 23514),
    "test_2018_flickr.fr": ("fb2b83fcceb937a4f7e3e93c1c51c22aba92f1e342391e6b5ba392b16a920501", 25321),
    "train.cs": ("a65adb8b32e3bc664f21ecba7a6e7f6950fd1f405e135f7c312faabdb6255077", 593827),
    "train.de": ("726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6", 637044),
    "train.en": ("d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f", 568929),
    "train.fr": ("622e75069e9f4c577425c4f277116ce66e63a2401c0a2312d90073cb12379a3c", 604242),
    "val.cs": ("b63226e05c4bd5dd6a42897d74b86a1b9d2c31498252c572b1ea7f7996927fcc", 22096),
    "val.de": ("f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a", 24681),
    "val.en": ("14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28", 21650),
    "val.fr": ("ca3106f1a72390591d25f6c45cb4cd39dec4cd3f123e099748a3ce5256c160e9", 23001),
}

_SIM_SHA = {
    "EN-MC-30.txt": ("33ee05911496ff83d95cac351d0746c6f63b9181b605cb7d307f4daa8864511b", 543),
    "EN-MEN-TR-3k.txt": ("888b13580faa362c7b11da0a670258cf1b1eb4bf0ecbcd418918729a3bd3f43a", 53593),
    "EN-MTurk-287.txt": ("a9ae3a9decb75a9700fe0cf18b048c1344774d9f40e0196baf8e34d4cd9d1ce5", 7218),
    "EN-MTurk-771.txt": ("04dc297c9e86b6fa7cf8ef0e4ba2e2c8d3399ec68d92fb7a53c0b4aae27198b5", 19628),
    "EN-RG-65.txt": ("c243f3a91c3f5d8cf67f21a67f6fb80bde8b6bb060851a6a48e6f2d68ec98c9f", 1210),
    "EN-RW-STANFORD.txt": ("5108d54dfc746f44f9c3d7e31d2857c37cf71430bc1594175a61a3b89bb0ae1f", 49851),
    "EN-SIMLEX-999.txt": ("405394ffb7d25f6d0e3c041f87c9f27d29dc6b047506769953e85c4523b11685", 18024),
    "EN-SimVerb-3500.txt": ("9d84274e7ad029fd3cf69dd0516e9ade624bbef9bd4e2050f6cc1fa01471e0f5", 65315),
    "EN-VERB-143.txt": ("7259e19961c81912aa4c72de0102e480b2ad2bb9f4ce97d036fbde8e1a403001", 3320),
    "EN-WS-353-ALL.txt": ("ce12919b240af45bdf46d243601eaca2b6212b159b5e7e9b435ee7ee40c5619c", 7405),
    "EN-WS-353-REL.txt": ("66a7c88100624d0a391605ff61ce84e11d11ee620d51ec0298da49592838f8fa", 5134),
    "EN-WS-353-SIM.txt": ("f1da938998863c94e53f72f984a5c6e215f0b46c323aae8f0f4930703a339107", 4002),
    "EN-YP-130.txt": ("7643fdbc6158c3424061e2cba450c71285767266ff9f3db947bfc1f1f5ce67ab", 2614),
}

DATASETS: tuple[Dataset, ...] = (
    Dataset(
        name="tinyshakespeare",
        title="Tiny Shakespeare (char-rnn), 1.1 MB of plays",
        record="text",
        files=(FileSpec(
            "input.txt", "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
            1115394, (_gh("karpathy/char-rnn", "6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e",
                          "data/tinyshakespeare/input.txt"),)),),
        splits=("all", "train", "val"),
        licence="Shakespeare's text is public domain; the char-rnn repository is MIT",
        source="Karpathy, char-rnn (2015)",
        reader=_read_tinyshakespeare,
        split_files={s: ("input.txt",) for s in ("all", "train", "val")},
        counts={"all": 40000},
        notes="Lines without line ends. train/val = first 90 % / last 10 % of characters "
              "(nanoGPT's shakespeare_char split).",
    ),
    Dataset(
        name="eng-fra",
        title="Tatoeba English-French sentence pairs (manythings.org, 2017-09-29)",
        record="pair",
        files=(FileSpec(
            "fra-eng.zip", "16c4f7d0df9e7c5e6c54cdb0447f3f4a18a55052ff5e2e0b27dd4a06c0e49d04",
            2951390, (_gh("genimind/seq2seq", "4f3f8eb0adde54fcc8b89394336b002e7961244c",
                          "fra-eng.zip"),)),),
        splits=("all",),
        licence="CC-BY 2.0 (France); attribution: manythings.org/anki and tatoeba.org",
        source="Tatoeba via manythings.org/anki; the PyTorch seq2seq tutorial's data format",
        reader=_read_eng_fra,
        split_files={"all": ("fra-eng.zip",)},
        counts={"all": 142787},
        aliases=("fra-eng",),
        notes="Pair(English, French); reverse=True gives French -> English as in the tutorial. "
              "About 5 % more pairs than the tutorial's eng-fra.txt (a later release).",
    ),
    Dataset(
        name="multi30k",
        title="Multi30k task 1: image captions in en/de/fr/cs",
        record="pair",
        files=tuple(
            FileSpec(f"task1/raw/{stem}.gz", sha, size,
                     (_gh(*_M30K, f"data/task1/raw/{stem}.gz"),))
            for stem, (sha, size) in _M30K_SHA.items()
        ),
        splits=tuple(_M30K_SPLITS),
        licence="non-commercial research and education only (Multi30k README); do not redistribute",
        source="Elliott et al. (2016), Multi30K: Multilingual English-German Image Descriptions",
        reader=_read_multi30k,
        split_files={s: (f"task1/raw/{stem}.de.gz", f"task1/raw/{stem}.en.gz")
                     for s, stem in _M30K_SPLITS.items()},
        counts={"train": 29000, "val": 1014, "test2016": 1000},
        notes="Options src= and tgt= pick the languages (default de -> en).",
    ),
    Dataset(
        name="conll2003",
        title="CoNLL-2003 English named entities (Reuters)",
        record="tagged",
        files=(
            FileSpec("eng.train", "eac0822f501353f265383ddf1edb0dcd42a1b6eefd3e383d7074db98c38eb41c",
                     3281528, (_gh(*_CONLL, "corpus/CoNLL-2003/eng.train"),)),
            FileSpec("eng.testa", "aedc4ccbd1ae9795feaa0e86fe72d195b0258abed9d705b630d1c889276fac1e",
                     827012, (_gh(*_CONLL, "corpus/CoNLL-2003/eng.testa"),)),
            FileSpec("eng.testb", "0632f32c090ef31c223135b7fee3187a7cf8e65c4015c7866bb7783428cdd9a6",
                     748096, (_gh(*_CONLL, "corpus/CoNLL-2003/eng.testb"),)),
        ),
        splits=("train", "dev", "test"),
        licence="Reuters RCV1 text: research use only (NIST agreement); do not redistribute",
        source="Tjong Kim Sang & De Meulder (2003), CoNLL-2003 shared task",
        reader=_read_conll2003,
        split_files={"train": ("eng.train",), "dev": ("eng.testa",), "test": ("eng.testb",)},
        counts={"train": 14041, "dev": 3250, "test": 3453},
        notes="Tags converted from the file's IOB1 to BIO. dev = eng.testa, test = eng.testb.",
    ),
    Dataset(
        name="text8",
        title="text8: cleaned English Wikipedia (first 6.9 MB prefix, or the full 100 MB)",
        record="text",
        files=(
            FileSpec("text8.head.gz",
                     "a729c144d0eeef852aae0fb2290c52119ac013b105e12a56e703649000cbb574", 2298689),
            FileSpec("text8.zip", None, None, ("http://mattmahoney.net/dc/text8.zip",)),
        ),
        splits=("head", "full"),
        licence="Wikipedia text (CC BY-SA); prepared by Matt Mahoney",
        source="Mahoney, Large Text Compression Benchmark (2006)",
        reader=_read_text8,
        split_files={"head": ("text8.head.gz",), "full": ("text8.zip",)},
        counts={"head": math.ceil(1171946 / 10000)},
        notes="Chunks of 10,000 words, like gensim's Text8Corpus. 'head' (1,171,946 words) is "
              "derived from a truncated copy and has no public URL of its own; 'full' downloads.",
    ),
    Dataset(
        name="wikitext-2",
        title="WikiText-2 (tokenised), Wikipedia good and featured articles",
        record="text",
        files=(
            FileSpec("valid.txt", "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8",
                     1121681, (_gh(*_WT2, "word_language_model/data/wikitext-2/valid.txt"),)),
            FileSpec("test.txt", "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0",
                     1256449, (_gh(*_WT2, "word_language_model/data/wikitext-2/test.txt"),)),
            FileSpec("train.txt", None, None,
                     (_gh(*_WT2, "word_language_model/data/wikitext-2/train.txt"),)),
        ),
        splits=("valid", "test", "train"),
        licence="CC BY-SA 3.0",
        source="Merity et al. (2016), Pointer Sentinel Mixture Models",
        reader=_read_wikitext2,
        split_files={s: (f"{s}.txt",) for s in ("valid", "test", "train")},
        counts={"valid": 3760, "test": 4358},
        aliases=("wikitext2",),
        notes="The tokenised .tokens files (with <unk>, @,@). train is not in shared/data.",
    ),
    Dataset(
        name="brown",
        title="Brown Corpus (NLTK copy), POS-tagged American English",
        record="tagged",
        files=(FileSpec(
            "brown.zip", "9b275f9b3b95d7bd66ccfb7cd259f445a13bbe5d1f4107aba09fd3e8364bafa6",
            3314357, (_gh(*_NLTK, "packages/corpora/brown.zip"),)),),
        splits=("all",),
        licence="non-commercial use; redistribution permitted (corpus README)",
        source="Francis & Kucera (1964/1979); NLTK data",
        reader=_read_brown,
        split_files={"all": ("brown.zip",)},
        counts={"all": 57340},
        notes="TaggedSentence with Brown POS tags; doc = file index (ca01 = 0).",
    ),
    Dataset(
        name="lee_corpus",
        title="Lee background corpus: 300 ABC news documents (gensim's tutorial corpus)",
        record="text",
        files=(FileSpec(
            "lee_background.cor", "5d78d6dafd953bbf65797bef09a9ffb9ec430583381be705f8fd460000f370fb",
            360082, (_gh(*_GENSIM, "gensim/test/test_data/lee_background.cor"),),
            package=("gensim", "test/test_data/lee_background.cor")),),
        splits=("all",),
        licence="as shipped in gensim (LGPL-2.1); no separate data licence",
        source="Lee, Pincombe & Welsh (2005)",
        reader=_read_lee,
        split_files={"all": ("lee_background.cor",)},
        counts={"all": 300},
        aliases=("lee",),
        notes="One document per line. Ships inside gensim: available offline.",
    ),
    Dataset(
        name="enwiki_sample",
        title="English Wikipedia sample: the first articles of a 2017 dump (ships inside gensim)",
        record="text",
        files=(FileSpec(
            "enwiki-sample.xml.bz2",
            "a53f4648dec40467ebdcbc7a1307eddb51fe6e28e9309f6ebde81ba0d04bea2d", 1695871,
            (_gh(*_GENSIM, "gensim/test/test_data/"
                 "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"),),
            package=("gensim", "test/test_data/"
                     "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")),),
        splits=("all",),
        licence="Wikipedia text, CC BY-SA 3.0; as shipped in gensim's test data",
        source="Wikimedia dump (enwiki pages-articles1), shortened by the gensim authors",
        reader=_read_enwiki_sample,
        split_files={"all": ("enwiki-sample.xml.bz2",)},
        counts={"all": 106},
        aliases=("wiki-sample",),
        notes="One article per record, markup removed with gensim's filter_wiki. About 3 MB "
              "of running text offline: the largest corpus available with no data folder.",
    ),
    Dataset(
        name="word_analogy",
        title="Google word analogy questions (Mikolov et al. 2013)",
        record="analogy",
        files=(
            FileSpec("questions-words.txt",
                     "8c29b3332afc46f3fb8be04cb5297bf96f39aa7131272dff57869b4485b22a36", 603955,
                     (_gh(*_GENSIM, "gensim/test/test_data/questions-words.txt"),),
                     package=("gensim", "test/test_data/questions-words.txt")),
            FileSpec("questions-phrases.txt",
                     "55cfc0894d0fe6cf974d106da3e09b5fb2fa6125b6ddc633d06e298dc5aa7901", 168209,
                     (_gh("celticspp/word2vec", "43e1bb34d39534103ff79fbbec57f9e169ae206a",
                          "questions-phrases.txt"),)),
        ),
        splits=("words", "phrases"),
        licence="Apache-2.0 (word2vec distribution)",
        source="Mikolov et al. (2013), Efficient Estimation of Word Representations",
        reader=_read_analogy,
        split_files={s: (f"questions-{s}.txt",) for s in ("words", "phrases")},
        counts={"words": 19544, "phrases": 3218},
        aliases=("google-analogy", "questions-words"),
        notes="words: 5 semantic + 9 syntactic (gram*) sections. Ships inside gensim.",
    ),
    Dataset(
        name="word_similarity",
        title="Word-similarity sets: WS-353, SimLex-999, MEN, RW, MTurk, RG-65, MC-30, SimVerb, ...",
        record="scored_pair",
        files=(
            FileSpec("gensim/wordsim353.tsv",
                     "f92a022fc2537793a15bc3a8c162ebcd74990e033a228bb6388cb71e4c0b1e1d", 7186,
                     (_gh(*_GENSIM, "gensim/test/test_data/wordsim353.tsv"),),
                     package=("gensim", "test/test_data/wordsim353.tsv")),
            FileSpec("gensim/simlex999.txt",
                     "d5e0501971478a511430ee880bd0121e94ac701ba86d90544d83e6d2ba3db05d", 18126,
                     (_gh(*_GENSIM, "gensim/test/test_data/simlex999.txt"),),
                     package=("gensim", "test/test_data/simlex999.txt")),
            *(FileSpec(f"eval-word-vectors/{fname}", sha, size,
                       (_gh(*_EWV, f"data/word-sim/{fname}"),))
              for fname, (sha, size) in _SIM_SHA.items()),
        ),
        splits=tuple(SIMILARITY_FILES),
        licence="per original authors (cite each set's paper); collection repo MIT",
        source="wordvectors.org collection (Faruqui & Dyer 2014) and gensim's test data",
        reader=_read_similarity,
        split_files={s: (f,) for s, f in SIMILARITY_FILES.items()},
        counts={"wordsim353": 353, "simlex999": 999, "ws353": 353, "ws353-rel": 252,
                "ws353-sim": 203, "simlex": 999, "men": 3000, "rw": 2034, "mturk287": 287,
                "mturk771": 771, "rg65": 65, "mc30": 30, "simverb3500": 3500, "yp130": 130, "verb143": 144},
        aliases=("wordsim",),
        notes="Each split is one set. wordsim353/simlex999 are gensim's copies (offline, the "
              "files gensim's evaluate_word_pairs uses). Scales differ: compare with Spearman.",
    ),
    Dataset(
        name="sst2",
        title="GLUE SST-2: Stanford Sentiment Treebank, binary",
        record="example",
        files=(
            FileSpec("train.tsv", "48eac26399f8456935f81dd9e3a745c1430adb6c62e233ccfe22db4a0d15d1d1",
                     3806081, (_gh(*_SST2, "glue_data/SST-2/train_full.tsv"),)),
            FileSpec("dev.tsv", "54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0",
                     94931, (_gh(*_SST2, "glue_data/SST-2/dev.tsv"),)),
            FileSpec("test.tsv", "69a938605609b3e6663b4487918fe1565eb293734e6e520d0366d1d412fd2a13",
                     197335, (_gh(*_SST2, "glue_data/SST-2/test.tsv"),)),
        ),
        splits=("train", "dev", "test"),
        licence="none stated; research use (Socher et al. 2013, GLUE)",
        source="Socher et al. (2013); Wang et al. (2018), GLUE",
        reader=_read_sst2,
        split_files={s: (f"{s}.tsv",) for s in ("train", "dev", "test")},
        counts={"train": 67349, "dev": 872, "test": 1821},
        notes="Labels '0'/'1'; test is unlabelled (label None). Use dev as the test set.",
    ),
    Dataset(
        name="movie_reviews",
        title="Pang & Lee movie reviews, polarity v2.0 (2,000 reviews)",
        record="example",
        files=(FileSpec(
            "movie_reviews.zip", "a41211ae685019137410268134db6a1a14428c89b671eb83056151a878539008",
            4004848, (_gh(*_NLTK, "packages/corpora/movie_reviews.zip"),)),),
        splits=("all",),
        licence="CC BY 4.0, (c) 2004 Bo Pang and Lillian Lee",
        source="Pang & Lee (2004), A Sentimental Education",
        reader=_read_movie_reviews,
        split_files={"all": ("movie_reviews.zip",)},
        counts={"all": 2000},
        notes="Example(review text, 'pos'|'neg', file id such as cv000_29416); "
              "10-fold CV by the cvN prefix is the usual protocol.",
    ),
    Dataset(
        name="sentence_polarity",
        title="Pang & Lee sentence polarity v1.0 ('MR', 10,662 snippets)",
        record="example",
        files=(FileSpec(
            "sentence_polarity.zip",
            "6e1ed4405b65c7eabf1d199a7f7c437091ac21da0ea7467b410a74062574566b", 490256,
            (_gh(*_NLTK, "packages/corpora/sentence_polarity.zip"),)),),
        splits=("all",),
        licence="CC BY 4.0, (c) 2005 Bo Pang and Lillian Lee",
        source="Pang & Lee (2005), Seeing Stars",
        reader=_read_sentence_polarity,
        split_files={"all": ("sentence_polarity.zip",)},
        counts={"all": 10662},
        aliases=("mr",),
        notes="Example(snippet, 'pos'|'neg'); no standard split (10-fold CV).",
    ),
)

_BY_NAME = {ds.name: ds for ds in DATASETS} | {a: ds for ds in DATASETS for a in ds.aliases}


def get_dataset(name: str) -> Dataset:
    """Look a data set up by name or alias; an unknown name is a :class:`DataError`."""
    try:
        return _BY_NAME[name]
    except KeyError:
        known = ", ".join(ds.name for ds in DATASETS)
        raise DataError(f"unknown data set {name!r}; known: {known}") from None
