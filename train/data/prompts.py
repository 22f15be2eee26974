"""Paraphrase a clean label into the many ways a user might ask for it.

Training only on bare labels would make the model brittle to "isolate the dog from the rest"; training only on
templates would make it worse at the short prompts users actually type. So the bare label stays the most common
prompt and the rest is spread over instruction-like templates, some naming what to remove.
"""

from collections.abc import Sequence

import numpy as np

BARE_PROB = 0.35  # short prompts are what users type and what benchmarks use
CAPITALISE_PROB = 0.1
ALIAS_PROB = 0.3  # how often the label is replaced by a synonym or a parent category

# Synonyms users type for a sound, keyed by a word of the label: "dog" must find "dog barking" and the reverse.
SYNONYMS = {
    "dog": ("dog", "a dog barking", "barking", "dog bark"), "cat": ("cat", "a cat meowing", "meowing", "kitten"),
    "baby": ("baby", "crying baby", "a baby crying", "infant crying"), "rain": ("rain", "rainfall", "raining"),
    "speaking": ("speech", "talking", "voice", "someone talking"), "saying": ("speech", "spoken word", "voice"),
    "guitar": ("guitar", "electric guitar", "guitar playing"), "saxophone": ("sax", "saxophone", "alto sax"),
    "piano": ("piano", "piano playing", "keys"), "crickets": ("crickets", "insects", "cricket chirping"),
    "birds": ("birds", "bird song", "birds singing", "chirping birds"), "thunder": ("thunder", "thunderstorm"),
    "waves": ("waves", "sea", "ocean"), "wind": ("wind", "wind blowing", "windy"), "fire": ("fire", "crackling fire"),
    "traffic": ("traffic", "cars", "street noise"), "train": ("train", "railway"), "clap": ("clapping", "hand clap"),
    "cow": ("cow", "mooing"), "horse": ("horse", "neighing"), "engine": ("engine", "motor"),
    "footsteps": ("footsteps", "walking", "steps"), "laughing": ("laughter", "laughing"),
    "drum": ("drums", "drum"), "music": ("music", "song", "band"),
}
# Parent categories: used only when no other sound in the mixture falls under the same parent.
PARENTS = {
    "animal": ("dog", "cat", "cow", "horse", "pig", "sheep", "goat", "bird", "birds", "chicken", "duck", "rooster",
               "lion", "wolf", "frog", "crow", "owl", "donkey", "rabbit"),
    "human voice": ("speaking", "saying", "speech", "voice", "voices", "laughing", "coughing", "shouting", "crying",
                    "singing", "baby"),
    "music": ("guitar", "piano", "saxophone", "violin", "music", "drum", "drums", "bass", "flute", "organ", "strings"),
    "water": ("rain", "waves", "stream", "water", "splash", "river"),
    "vehicle": ("car", "train", "engine", "truck", "boat", "motorcycle", "traffic", "airplane"),
}

_TEMPLATES = (
    "the sound of {label}",
    "{label} sounds",
    "{label} sound",
    "isolate the {label}",
    "isolate the {label} from the rest",
    "extract the {label}",
    "extract {label}",
    "only the {label}",
    "just the {label}",
    "keep the {label}",
    "remove everything except the {label}",
    "get rid of everything but the {label}",
    "i want to hear the {label}",
    "{label} only",
    "the {label} on its own",
)
_CONTEXT_TEMPLATES = (
    "separate the {label} from the {context}",
    "isolate the {label} from the {context}",
    "extract the {label} and remove the {context}",
    "keep the {label}, remove the {context}",
    "{label} without the {context}",
)
GENERIC_CONTEXTS = ("background", "background noise", "background music", "noise", "rest of the audio")


def _words(label: str) -> set[str]:
    return set(label.lower().split())


def parents(label: str) -> set[str]:
    """The parent categories a label falls under ("cow mooing" -> {"animal"})."""
    words = _words(label)
    return {parent for parent, members in PARENTS.items() if words & set(members)}


def aliases(label: str, others: Sequence[str] = ()) -> list[str]:
    """Other names for `label`: synonyms of its words, and parents that none of `others` (the rest of the mix) has."""
    out = [alt for word in sorted(_words(label)) for alt in SYNONYMS.get(word, ()) if alt != label]
    taken = set().union(*(parents(o) for o in others)) if others else set()
    return out + sorted(parents(label) - taken)


def make_prompt(label: str, rng: np.random.Generator, *, context: str | None = None,
                others: Sequence[str] = ()) -> str:
    """A prompt asking for `label`; when `context` (another label or a generic word) is given it may be named too.

    `others` are the other sounds in the mixture: a parent category ("animal") is only used when it names the
    target alone.
    """
    alts = aliases(label, others)
    if alts and rng.random() < ALIAS_PROB:
        label = alts[rng.integers(len(alts))]
    r = rng.random()
    if r < BARE_PROB:
        prompt = label
    elif context is not None and r < BARE_PROB + 0.2:
        prompt = _CONTEXT_TEMPLATES[rng.integers(len(_CONTEXT_TEMPLATES))].format(label=label, context=context)
    else:
        prompt = _TEMPLATES[rng.integers(len(_TEMPLATES))].format(label=label)
    if label.startswith(("a ", "an ", "the ")):
        prompt = prompt.replace(f"the {label}", label)
    if rng.random() < CAPITALISE_PROB:
        prompt = prompt[0].upper() + prompt[1:]
    return prompt
