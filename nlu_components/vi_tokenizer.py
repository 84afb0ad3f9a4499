"""Vietnamese tokenizer for Rasa 3.6 with accent-insensitive lemmas.

Tokens keep the exact original substring and offsets (so entity extraction works on what the user
typed), while ``Token.lemma`` is a normalised form meant for ``CountVectorsFeaturizer(use_lemma=True)``:
lowercase, teencode/abbreviations expanded, diacritics folded and multi-syllable words joined with "_"
(``"Giấy khai sinh"`` -> ``"giay_khai_sinh"``, ``"gks"`` -> ``"giay_khai_sinh"``).

Segmentation ("segmenter" option):

* ``"lexicon"`` (default): greedy longest match over *folded* syllables with a lexicon made of the domain
  terms file, multi-word teencode expansions and the compounds that ``underthesea.word_tokenize`` finds in
  the training data (learned in ``train`` and stored in model storage). Because matching happens on the
  folded form, "đăng ký khai sinh" and "dang ky khai sinh" are segmented identically, and only compounds
  seen in training (i.e. present in the featurizer vocabulary) are merged.
* ``"underthesea"``: ``underthesea.word_tokenize`` on the original text at inference, aligned back to the
  original offsets, with domain terms merged on top. Better segmentation of unseen accented text, but
  unaccented text is segmented differently from accented text.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu import constants as nlu_constants
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from core.privacy import ID_PATTERN, PHONE_PATTERN
from nlu_components.normalize import (
    TEENCODE_PATH,
    WORD_RE,
    expand_words,
    fold_diacritics,
    fold_with_offsets,
    load_teencode,
    match_key,
)

logger = logging.getLogger(__name__)

DEFAULT_TERMS_PATH = Path(__file__).with_name("terms.txt")
TERMS_FILE_NAME = "terms.txt"
TEENCODE_FILE_NAME = "teencode.tsv"
COMPOUNDS_FILE_NAME = "compounds.txt"

# Atoms of the original text. Order matters: URLs/e-mails/phones/ID numbers/codes must win over plain words so
# that e.g. "H07.99-251120-0012", "0912 345 678" or "0010 9900 1234" stay one token. Phone and ID numbers are
# recognised by the one personal-data pattern set (core.privacy), the one the log masking uses.
_ATOM_RE = re.compile(
    r"""
    (?P<url>(?:https?://|www\.)[^\s<>"']*[^\s<>"'.,;:!?)\]])
    |(?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)
    |(?P<phone>""" + PHONE_PATTERN + r""")
    |(?P<idnum>""" + ID_PATTERN + r""")
    |(?P<code>(?<!\w)[^\W_]+(?:[./\-][^\W_]+)+)
    |(?P<word>(?:[^\W_]|[\u0300-\u036f])+)
    """,
    re.VERBOSE,
)

Atom = tuple[int, int, str]  # (start, end, kind)


def read_word_list(path: Path) -> list[str]:
    """Read a one-entry-per-line list, ignoring blank lines and ``#`` comments."""
    entries = []
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            entries.append(unicodedata.normalize("NFC", line))
    return entries


def split_atoms(text: str) -> list[Atom]:
    """Split ``text`` into atoms (words, numbers, codes, phones, e-mails, URLs); punctuation is dropped."""
    atoms: list[Atom] = []
    for match in _ATOM_RE.finditer(text):
        kind = match.lastgroup or "word"
        if kind == "code" and not any(c.isdigit() for c in match.group(0)):
            kind = "abbr"  # dotted/hyphenated word without digits: "v.v", "e-mail", "NĐ-CP"
        atoms.append((match.start(), match.end(), kind))
    return atoms


def align_words(text: str, words: Sequence[str]) -> list[tuple[int, int] | None]:
    """Map words produced by a normalising segmenter back to ``(start, end)`` offsets in ``text``.

    Comparison happens on a lowercase, diacritic-folded, whitespace-free form, so the segmenter may
    change Đ/Ð variants, tone placement ("hoá"/"hóa"), NFD/NFC composition and spacing. Words that cannot
    be found get ``None``.
    """
    folded, offsets = fold_with_offsets(text)
    kept = [(c, o) for c, o in zip(folded, offsets, strict=True) if not c.isspace()]
    stream = "".join(c for c, _ in kept)
    spans: list[tuple[int, int] | None] = []
    position = 0
    for word in words:
        target = "".join(fold_with_offsets(word)[0].split())
        found = position if target and stream.startswith(target, position) else stream.find(target, position)
        if not target or found < 0:
            spans.append(None)
            continue
        start = kept[found][1]
        end = kept[found + len(target) - 1][1] + 1
        while end < len(text) and unicodedata.combining(text[end]):
            end += 1  # keep trailing combining marks of NFD text inside the token
        spans.append((start, end))
        position = found + len(target)
    return spans


@lru_cache(maxsize=1)
def _underthesea_dictionary() -> set[str]:
    """underthesea's Viet74K word list (lowercase NFC); empty if this underthesea build lacks it."""
    import underthesea

    path = os.path.join(os.path.dirname(underthesea.__file__), "corpus", "data", "Viet74K.txt")
    if not os.path.exists(path):
        logger.warning("underthesea Viet74K dictionary not found; learning compounds by frequency only.")
        return set()
    with open(path, encoding="utf-8") as handle:
        return {" ".join(unicodedata.normalize("NFC", line).lower().split()) for line in handle}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class VietnameseTokenizer(Tokenizer):
    """Vietnamese word tokenizer with domain terms, teencode expansion and diacritic-folded lemmas."""

    @staticmethod
    def supported_languages() -> list[str] | None:
        """Supported languages (see parent class for full docstring)."""
        return ["vi"]

    @staticmethod
    def required_packages() -> list[str]:
        """Extra Python packages needed by this component."""
        return ["underthesea"]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Returns the default config (see parent class for full docstring)."""
        return {
            # Domain terms kept as one token (one per line). None = packaged nlu_components/terms.txt.
            # The file is copied into model storage at training time.
            "terms_file": None,
            # Teencode/abbreviation table (key<TAB>expansion). None = packaged nlu_components/teencode.tsv.
            "teencode_file": None,
            # "lexicon" (accent-insensitive, consistent) or "underthesea" (CRF segmentation at inference).
            "segmenter": "lexicon",
            # Learn multi-syllable words from the training data with underthesea (lexicon segmenter).
            "learn_compounds": True,
            # A learned compound outside underthesea's dictionary needs this many accented occurrences.
            "min_compound_count": 2,
            # Lemma: remove diacritics (đ -> d, tone/vowel marks dropped).
            "fold_diacritics": True,
            # Lemma: expand teencode/abbreviations ("ko" -> "không", "cccd" -> "căn cước công dân").
            "expand_teencode": True,
            # Flag to check whether to split intents
            "intent_tokenization_flag": False,
            # Symbol on which intent should be split
            "intent_split_symbol": "_",
            # Regular expression to further split tokens (applied to the original token text)
            "token_pattern": None,
            # Symbol on which prefix should be split
            "prefix_separator_symbol": None,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        terms: Iterable[str] | None = None,
        teencode: dict[str, str] | None = None,
        compounds: Iterable[str] | None = None,
    ) -> None:
        """Initialise the tokenizer with its (already loaded) word lists."""
        super().__init__(config)
        self._model_storage = model_storage
        self._resource = resource
        if config.get("segmenter", "lexicon") not in ("lexicon", "underthesea"):
            segmenter = config.get("segmenter")
            raise ValueError(f"Unknown segmenter '{segmenter}', use 'lexicon' or 'underthesea'.")
        self._fold = bool(config.get("fold_diacritics", True))
        self._expand = bool(config.get("expand_teencode", True))
        if terms is None:
            terms = read_word_list(self._terms_path(config))
        if teencode is None:
            teencode = load_teencode(config.get("teencode_file"))
        self._terms_source = list(terms)
        self._teencode = dict(teencode)
        self._compounds: set[str] = set()
        self._rebuild_lexicons(compounds or [])

    @staticmethod
    def _terms_path(config: dict[str, Any]) -> Path:
        return Path(config.get("terms_file") or DEFAULT_TERMS_PATH)

    def _rebuild_lexicons(self, compounds: Iterable[str]) -> None:
        """Build folded syllable-tuple lexicons from terms, teencode expansions and learned compounds."""
        self._compounds = {match_key(c) for c in compounds if len(match_key(c).split()) > 1}
        self._term_keys = {tuple(match_key(t).split()) for t in self._terms_source}
        if self._expand:
            self._term_keys |= {tuple(match_key(v).split()) for v in self._teencode.values()}
        self._term_keys = {k for k in self._term_keys if len(k) > 1}
        self._compound_keys = {tuple(c.split()) for c in self._compounds}
        self._max_len = max((len(k) for k in self._term_keys | self._compound_keys), default=1)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> VietnameseTokenizer:
        """Creates a new, untrained component (see parent class for full docstring)."""
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> VietnameseTokenizer:
        """Loads terms, teencode table and learned compounds from model storage."""
        try:
            with model_storage.read_from(resource) as directory:
                terms = read_word_list(directory / TERMS_FILE_NAME)
                teencode = dict(load_teencode(str(directory / TEENCODE_FILE_NAME)))
                compounds_path = directory / COMPOUNDS_FILE_NAME
                compounds = read_word_list(compounds_path) if compounds_path.exists() else []
            return cls(config, model_storage, resource, terms, teencode, compounds)
        except (ValueError, FileNotFoundError):
            logger.debug(f"Resource '{resource.name}' not found in model storage, using configured files.")
            return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Learns compounds from the training data and persists all word lists to model storage."""
        if self._config.get("learn_compounds", True) and self._config.get("segmenter") == "lexicon":
            self._rebuild_lexicons(self._learn_compounds(training_data.training_examples))
        self.persist()
        return self._resource

    def persist(self) -> None:
        """Writes terms, teencode table and learned compounds into this component's resource."""
        teencode_source = Path(self._config.get("teencode_file") or TEENCODE_PATH)
        with self._model_storage.write_to(self._resource) as directory:
            (directory / TERMS_FILE_NAME).write_text("\n".join(self._terms_source) + "\n", encoding="utf-8")
            (directory / TEENCODE_FILE_NAME).write_text(
                teencode_source.read_text(encoding="utf-8"), encoding="utf-8"
            )
            (directory / COMPOUNDS_FILE_NAME).write_text(
                "".join(f"{c}\n" for c in sorted(self._compounds)), encoding="utf-8"
            )

    def _learn_compounds(self, examples: Iterable[Message]) -> set[str]:
        """Multi-syllable words found by underthesea in the training texts (returned as folded keys).

        underthesea is unreliable on unaccented text ("can giay" for "cần giấy"), so a compound is kept
        only if it is in underthesea's Viet74K dictionary or was seen with diacritics at least
        ``min_compound_count`` times. Compounds straddling an annotated entity boundary are skipped.
        """
        from underthesea import word_tokenize

        dictionary = _underthesea_dictionary()
        counts: Counter = Counter()
        for example in examples:
            text = example.get(nlu_constants.TEXT)
            if not text:
                continue
            words = word_tokenize(unicodedata.normalize("NFC", text))
            boundaries = {
                entity.get(key)
                for entity in example.get(nlu_constants.ENTITIES) or []
                for key in (nlu_constants.ENTITY_ATTRIBUTE_START, nlu_constants.ENTITY_ATTRIBUTE_END)
            }
            for word, span in zip(words, align_words(text, words), strict=True):
                word = " ".join(unicodedata.normalize("NFC", word).lower().split())
                if span is None or len(word.split()) < 2 or not all(w.isalpha() for w in word.split()):
                    continue
                if not any(span[0] < b < span[1] for b in boundaries):
                    counts[word] += 1
        min_count = int(self._config.get("min_compound_count", 2))
        return {
            match_key(word)
            for word, count in counts.items()
            if word in dictionary or (fold_diacritics(word) != word and count >= min_count)
        }

    # ------------------------------------------------------------------ tokenization

    def _run_syllables(self, words: list[str]) -> list[list[str]]:
        """Lemma syllables of each word of a run (teencode expanded in context, lowercase NFC, not folded)."""
        lowered = [unicodedata.normalize("NFC", word).lower() for word in words]
        if self._expand:
            lowered = expand_words(lowered, self._teencode)
        return [word.split() for word in lowered]

    def _lemma(self, syllables: list[str]) -> str:
        lemma = "_".join(syllables)
        return fold_diacritics(lemma) if self._fold else lemma

    def lemma_for(self, text: str) -> str:
        """Normalised lemma of a token text: lowercase, teencode expanded, optionally folded, '_'-joined."""
        syllables = [s for word in self._run_syllables(WORD_RE.findall(text)) for s in word]
        if not syllables:
            return unicodedata.normalize("NFC", text).lower()
        return self._lemma(syllables)

    def _match_groups(
        self, keys: list[list[str]], lexicon: set[tuple[str, ...]], max_len: int
    ) -> list[tuple[int, int]]:
        """Greedy longest match of consecutive atoms whose folded syllables form a lexicon entry."""
        groups: list[tuple[int, int]] = []
        i = 0
        while i < len(keys):
            end = i + 1
            for j in range(min(len(keys), i + max_len), i + 1, -1):
                if tuple(k for atom_keys in keys[i:j] for k in atom_keys) in lexicon:
                    end = j
                    break
            groups.append((i, end))
            i = end
        return groups

    def _lexicon_groups(self, keys: list[list[str]]) -> list[tuple[int, int]]:
        """Domain terms first, then learned compounds inside the stretches the terms left alone."""
        groups: list[tuple[int, int]] = []
        pending: list[int] = []  # atoms not covered by a term, matched against compounds later

        def flush() -> None:
            if pending:
                sub = self._match_groups([keys[k] for k in pending], self._compound_keys, self._max_len)
                groups.extend((pending[0] + i, pending[0] + j) for i, j in sub)
                pending.clear()

        for i, j in self._match_groups(keys, self._term_keys, self._max_len):
            if j - i > 1 or len(keys[i]) > 1:  # a multi-atom term or an expanded abbreviation ("cccd")
                flush()
                groups.append((i, j))
            else:
                pending.append(i)
        flush()
        return groups

    def _crf_groups(self, text: str, atoms: list[Atom], keys: list[list[str]]) -> list[tuple[int, int]]:
        """Underthesea segmentation of one run of words, with domain terms taking precedence."""
        from underthesea import word_tokenize

        start, end = atoms[0][0], atoms[-1][1]
        words = word_tokenize(text[start:end])
        atom_index = {a[0]: i for i, a in enumerate(atoms)}
        crf: list[tuple[int, int]] = []
        for span in align_words(text[start:end], words):
            if span is None:
                continue
            first = atom_index.get(start + span[0])
            last = [i for i, a in enumerate(atoms) if start + span[0] <= a[0] and a[1] <= start + span[1]]
            if first is not None and last:
                crf.append((first, last[-1] + 1))
        owner = list(range(len(atoms)))  # every atom alone unless CRF/terms group it
        for group_id, (i, j) in enumerate(crf):
            for k in range(i, j):
                owner[k] = len(atoms) + group_id
        for group_id, (i, j) in enumerate(self._match_groups(keys, self._term_keys, self._max_len)):
            if j - i > 1:
                for k in range(i, j):
                    owner[k] = 2 * len(atoms) + len(crf) + group_id
        groups: list[tuple[int, int]] = []
        for index, group_owner in enumerate(owner):
            if groups and owner[index - 1] == group_owner:
                groups[-1] = (groups[-1][0], index + 1)
            else:
                groups.append((index, index + 1))
        return groups

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        """Tokenizes the text of the provided attribute of the incoming message."""
        text = message.get(attribute)
        atoms = split_atoms(text)
        tokens: list[Token] = []
        i = 0
        while i < len(atoms):
            if atoms[i][2] != "word":
                start, end, _ = atoms[i]
                lemma = self._special_lemma(text[start:end], atoms[i][2])
                tokens.append(Token(text[start:end], start, end, lemma=lemma))
                i += 1
                continue
            # A run of words separated only by whitespace is segmented as a whole.
            j = i + 1
            while j < len(atoms) and atoms[j][2] == "word":
                if text[atoms[j - 1][1] : atoms[j][0]].strip():  # punctuation in between ends the run
                    break
                j += 1
            run = atoms[i:j]
            syllables = self._run_syllables([text[a[0] : a[1]] for a in run])
            keys = [[fold_diacritics(s) for s in word] for word in syllables]
            if self._config.get("segmenter") == "underthesea":
                groups = self._crf_groups(text, run, keys)
            else:
                groups = self._lexicon_groups(keys)
            for first, last in groups:
                start, end = run[first][0], run[last - 1][1]
                lemma = self._lemma([s for word in syllables[first:last] for s in word])
                tokens.append(Token(text[start:end], start, end, lemma=lemma))
            i = j
        if not tokens:
            tokens = [Token(text, 0, len(text), lemma=self.lemma_for(text))]
        return self._apply_token_pattern(tokens)

    def _special_lemma(self, text: str, kind: str) -> str:
        """Lemma for codes, phones, e-mails, URLs and abbreviations: lowercase, no whitespace, folded.

        Abbreviations get "_" instead of their inner dots/hyphens ("NĐ-CP" -> "nd_cp") so that
        CountVectorsFeaturizer keeps them as one feature; teencode is not applied to their parts.
        """
        lemma = "".join(unicodedata.normalize("NFC", text).lower().split())
        if kind == "abbr":
            lemma = re.sub(r"[./\-]+", "_", lemma)
        return fold_diacritics(lemma) if self._fold else lemma

    def _apply_token_pattern(self, tokens: list[Token]) -> list[Token]:
        """Like the base class, but every piece gets its own lemma instead of the parent's."""
        if not self.token_pattern_regex:
            return tokens
        final_tokens: list[Token] = []
        for token in tokens:
            pieces = [p for p in self.token_pattern_regex.findall(token.text) if p]
            if not pieces:
                final_tokens.append(token)
            offset = 0
            for piece in pieces:
                piece_start = token.text.index(piece, offset)
                offset = piece_start + len(piece)
                final_tokens.append(
                    Token(piece, token.start + piece_start, data=token.data, lemma=self.lemma_for(piece))
                )
        return final_tokens
