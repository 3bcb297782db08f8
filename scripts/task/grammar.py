"""A seeded rule-based grammar translating English-like sentences into a pseudo-language.

The target language differs from the source in ways a small model finds hard and a bigger one learns:
- word order: subject, adjunct phrase, object, adverb, verb (SOV); adjectives and determiners follow the noun;
  prepositions become postpositions; relative clauses come before their head noun;
- morphology: plural, case (object, oblique) on nouns, number agreement on adjectives and determiners,
  tense + subject-number and object-number agreement (+ negation prefix) on verbs, a relative-clause suffix.
The verb agrees with the subject, which sits at the far end of the sentence in the target order, and with its
object; 577 content words (lexicon.py) make knowing the translations a matter of capacity too.
"""
import random
from dataclasses import dataclass, field

from lexicon import ADJECTIVES, ADVERBS, NOUNS, PREPOSITIONS, VERBS

CONSONANTS = "ptkbdgmnlrsvzh"
VOWELS = "aeiou"
# Target morphemes (fixed, so the grammar is learnable across seeds).
PLURAL, OBJECT_CASE, OBLIQUE_CASE = "en", "ak", "es"
ADJ_PLURAL = "i"
TENSE = {"present": "a", "past": "u", "future": "e"}
AGREEMENT = {False: "t", True: "n"}  # keyed by "subject is plural"
OBJECT_AGREEMENT = {False: "", True: "i"}  # keyed by "object is plural"
NEGATION, RELATIVE = "mo", "ma"
DETERMINERS = {("def", False): "lo", ("def", True): "loi", ("indef", False): "na", ("indef", True): "nai",
               ("dem", False): "ze", ("dem", True): "zei"}
SOURCE_DETERMINERS = {("def", False): "the", ("def", True): "the", ("indef", False): "a", ("indef", True): "some",
                      ("dem", False): "this", ("dem", True): "these"}


def english_s(word: str) -> str:
    """Regular English plural / third-person-singular spelling."""
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2] not in VOWELS:
        return word[:-1] + "ies"
    return word + "s"


def english_ed(word: str) -> str:
    """Regular English past tense spelling."""
    if word.endswith("e"):
        return word + "d"
    if word.endswith("y") and word[-2] not in VOWELS:
        return word[:-1] + "ied"
    return word + "ed"


def make_lexicon(seed: int) -> dict:
    """Maps every source content word to a unique random target stem (2-3 syllables)."""
    rng = random.Random(seed)
    taken = set(DETERMINERS.values())
    lexicon = {}
    for word in NOUNS + ADJECTIVES + VERBS + ADVERBS + PREPOSITIONS:
        while True:
            syllables = rng.choice((2, 2, 3))
            stem = "".join(rng.choice(CONSONANTS) + rng.choice(VOWELS) for _ in range(syllables))
            if rng.random() < 0.3:
                stem += rng.choice("nlrs")
            if stem not in taken:
                taken.add(stem)
                lexicon[word] = stem
                break
    return lexicon


@dataclass
class NounPhrase:
    determiner: str  # "def" | "indef" | "dem"
    adjectives: list
    noun: str
    plural: bool
    modifier: object = None  # PrepPhrase | RelativeClause | None


@dataclass
class PrepPhrase:
    preposition: str
    object: NounPhrase


@dataclass
class RelativeClause:
    verb: str
    tense: str
    object: NounPhrase


@dataclass
class Sentence:
    subject: NounPhrase
    verb: str
    tense: str
    negated: bool
    object: NounPhrase
    adjunct: PrepPhrase = None
    adverb: str = None
    words: list = field(default_factory=list)


class Grammar:
    """Samples sentences and renders them in both languages."""

    def __init__(self, seed: int):
        self.lexicon = make_lexicon(seed)

    def noun_phrase(self, rng: random.Random, allow_modifier: float, allow_prep: bool = True) -> NounPhrase:
        """A noun phrase; objects take no prepositional modifier (it would read like the sentence adjunct)."""
        count = rng.choices((0, 1, 2), weights=(0.5, 0.35, 0.15))[0]
        phrase = NounPhrase(rng.choice(("def", "def", "indef", "dem")), rng.sample(ADJECTIVES, count),
                            rng.choice(NOUNS), rng.random() < 0.4)
        if rng.random() < allow_modifier:
            if allow_prep and rng.random() < 0.5:
                phrase.modifier = PrepPhrase(rng.choice(PREPOSITIONS), self.noun_phrase(rng, 0.0))
            else:
                phrase.modifier = RelativeClause(rng.choice(VERBS), rng.choice(tuple(TENSE)),
                                                 self.noun_phrase(rng, 0.0))
        return phrase

    def sentence(self, rng: random.Random) -> Sentence:
        return Sentence(
            subject=self.noun_phrase(rng, 0.3), verb=rng.choice(VERBS), tense=rng.choice(tuple(TENSE)),
            negated=rng.random() < 0.2, object=self.noun_phrase(rng, 0.2, allow_prep=False),
            adjunct=PrepPhrase(rng.choice(PREPOSITIONS), self.noun_phrase(rng, 0.0)) if rng.random() < 0.3 else None,
            adverb=rng.choice(ADVERBS) if rng.random() < 0.3 else None)

    # Source (English-like) rendering.

    def source_verb(self, verb: str, tense: str, plural_subject: bool, negated: bool) -> list:
        if tense == "future":
            return ["will", "not", verb] if negated else ["will", verb]
        if negated:
            aux = "did" if tense == "past" else ("do" if plural_subject else "does")
            return [aux, "not", verb]
        if tense == "past":
            return [english_ed(verb)]
        return [verb if plural_subject else english_s(verb)]

    def source_np(self, np: NounPhrase) -> list:
        det = SOURCE_DETERMINERS[(np.determiner, np.plural)]
        words = np.adjectives + [english_s(np.noun) if np.plural else np.noun]
        if det == "a" and words[0][0] in VOWELS:
            det = "an"
        words = [det] + words
        if isinstance(np.modifier, PrepPhrase):
            words += [np.modifier.preposition] + self.source_np(np.modifier.object)
        elif isinstance(np.modifier, RelativeClause):
            clause = np.modifier
            words += ["that"] + self.source_verb(clause.verb, clause.tense, np.plural, False)
            words += self.source_np(clause.object)
        return words

    def source(self, s: Sentence) -> str:
        words = self.source_np(s.subject) + self.source_verb(s.verb, s.tense, s.subject.plural, s.negated)
        words += self.source_np(s.object)
        if s.adjunct:
            words += [s.adjunct.preposition] + self.source_np(s.adjunct.object)
        if s.adverb:
            words.append(s.adverb)
        return " ".join(words)

    # Target rendering.

    def target_verb(self, verb: str, tense: str, plural_subject: bool, plural_object: bool, negated: bool) -> str:
        return ((NEGATION if negated else "") + self.lexicon[verb] + TENSE[tense] + AGREEMENT[plural_subject]
                + OBJECT_AGREEMENT[plural_object])

    def target_np(self, np: NounPhrase, case: str) -> list:
        words = []
        if isinstance(np.modifier, RelativeClause):
            clause = np.modifier
            words += self.target_np(clause.object, OBJECT_CASE)
            words.append(self.target_verb(clause.verb, clause.tense, np.plural, clause.object.plural, False) + RELATIVE)
        words.append(self.lexicon[np.noun] + (PLURAL if np.plural else "") + case)
        words += [self.lexicon[a] + (ADJ_PLURAL if np.plural else "") for a in reversed(np.adjectives)]
        words.append(DETERMINERS[(np.determiner, np.plural)])
        if isinstance(np.modifier, PrepPhrase):
            words += self.target_np(np.modifier.object, OBLIQUE_CASE) + [self.lexicon[np.modifier.preposition]]
        return words

    def target(self, s: Sentence) -> str:
        words = self.target_np(s.subject, "")
        if s.adjunct:
            words += self.target_np(s.adjunct.object, OBLIQUE_CASE) + [self.lexicon[s.adjunct.preposition]]
        words += self.target_np(s.object, OBJECT_CASE)
        if s.adverb:
            words.append(self.lexicon[s.adverb])
        words.append(self.target_verb(s.verb, s.tense, s.subject.plural, s.object.plural, s.negated))
        return " ".join(words)
