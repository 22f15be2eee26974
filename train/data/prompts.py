"""Paraphrase a clean label into the many ways a user might ask for it.

Training only on bare labels would make the model brittle to "isolate the dog from the rest"; training only on
templates would make it worse at the short prompts users actually type. So the bare label stays the most common
prompt and the rest is spread over instruction-like templates, some naming what to remove.
"""

import numpy as np

BARE_PROB = 0.35  # short prompts are what users type and what benchmarks use
CAPITALISE_PROB = 0.1

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


def make_prompt(label: str, rng: np.random.Generator, *, context: str | None = None) -> str:
    """A prompt asking for `label`; when `context` (another label or a generic word) is given it may be named too."""
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
