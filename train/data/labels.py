"""Turn noisy file-name labels into short prompts, and decide when two labels name the same kind of sound.

Users type short lowercase noun phrases ("dog barking", "piano"), so training labels must look like that: no take
numbers, pitch names or variant words ("high", "loop", "short") that no one would type, and no glued compounds
("analogsynth2"). The mixing code also needs to know when two labels are too close to be told apart by a prompt
("footsteps on snow" vs "footstep on gravel"), which `related` answers from shared content words.
"""

import re
from collections.abc import Sequence


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())

# Glued or misspelled Berklee file-name words, rewritten to what a user would type.
_FIXES = {
    "analogsynth": "analog synth", "longsynth": "synth", "shortsynth": "synth", "synthdrone": "synth drone",
    "syn": "synth", "fm": "synth", "arp": "arpeggio", "vox": "voice", "orch": "orchestra",
    "femalevoice": "female voice", "femalevoices": "female voices", "malevoice": "male voice",
    "malevoices": "male voices", "voclongchord": "vocal chord", "avocoder": "a vocoder",
    "trashcan": "trash can", "garbagecan": "garbage can", "trashcandragging": "trash can dragging",
    "brassbowlhit": "brass bowl hit", "brassbowlsrubbing": "brass bowl rubbing", "bowlbang": "bowl bang",
    "smalltemplebell": "temple bell", "templebell": "temple bell", "tinybell": "tiny bell",
    "wineglass": "wine glass", "wineglasstone": "wine glass tone", "musicstand": "music stand",
    "bulbpop": "bulb pop", "bulp": "bulb", "pillrattle": "pill rattle", "tubeblowing": "tube blowing",
    "metalrumble": "metal rumble", "metalhit": "metal hit", "metalscrape": "metal scrape",
    "metalsqueek": "metal squeak", "squeek": "squeak", "squeel": "squeal", "metalichit": "metal hit",
    "drymetalhit": "metal hit", "metalpipe": "metal pipe", "draggingmetal": "dragging metal",
    "moremetal": "metal", "moremarbles": "marbles", "asthmainhaler": "asthma inhaler",
    "scrapingstick": "scraping stick", "airblower": "air blower", "aircompressor": "air compressor",
    "eviltoy": "evil toy", "cymbolscratch": "cymbal scratch", "cym": "cymbal", "perc": "percussion",
    "reso": "resonant", "casiohorn": "casio horn", "vinly": "vinyl", "finyl": "vinyl", "barel": "barrel",
    "bafle": "baffle", "gargabe": "garbage", "scraatch": "scratch", "chriping": "chirping",
    "atmospher": "atmosphere", "ambiance": "ambience", "goove": "groove", "voilent": "violent",
    "accordian": "accordion", "asprin": "aspirin", "mallett": "mallet", "digeradoo": "didgeridoo",
    "digeridoo": "didgeridoo", "glas": "glass", "krinkle": "crinkle", "bbs": "bb pellets",
    "birdsinapark": "birds in a park", "closingdoor": "closing door", "doorslam": "door slam",
    "cardoor": "car door", "carboardbox": "cardboard box", "carddeck": "card deck", "cookietin": "cookie tin",
    "cookietinspin": "cookie tin spin", "coinspin": "coin spin", "chaindrop": "chain drop",
    "chimeballs": "chime balls", "ceramictile": "ceramic tile", "clothesdryer": "clothes dryer",
    "clutterstatic": "static", "crazybreathing": "breathing", "drillinginstyrofoam": "drilling styrofoam",
    "foilcrumble": "foil crumble", "glassbeads": "glass beads", "glasshit": "glass hit",
    "gravelcrunch": "gravel crunch", "hallwaynoises": "hallway noise", "hallwaytalking": "people talking",
    "hittingscreen": "hitting a screen", "knifesharpener": "knife sharpener", "liddrop": "lid drop",
    "lidhit": "lid hit", "lockersqueak": "locker squeak", "loudmotor": "motor", "machinedrill": "drill",
    "madgong": "gong", "mouthnoises": "mouth noises", "naildrop": "nail drop", "packingtape": "packing tape",
    "policesiren": "police siren", "powerdrill": "power drill", "powertool": "power tool",
    "reverbslap": "slap", "spinningpin": "spinning pin", "spinningplate": "spinning plate",
    "spinningroll": "spinning", "styrofoamnoises": "styrofoam", "tincan": "tin can", "tinfoil": "tin foil",
    "tinklingchain": "tinkling chain", "waterbottle": "water bottle", "waterbubbles": "water bubbles",
    "waterpump": "water pump", "watersplash": "water splash", "whistlebreath": "whistle", "windup": "wind up",
    "wirewhisk": "wire whisk", "woodenclaps": "wooden claps", "yogaballs": "yoga balls",
    "balloonbass": "balloon bass", "balloondrumming": "balloon drumming", "balloonrubbing": "balloon rubbing",
    "bamboonaphone": "bamboo", "chimesmajsixth": "chimes", "chimesmajthird": "chimes",
    "chimesshortphrase": "chimes", "singlenote": "", "bottlecap": "bottle cap", "highfreqmetal": "metal",
    "loudmetal": "metal", "softmetal": "metal", "hollowhit": "hollow hit", "fakejungle": "jungle",
    "ballbearings": "ball bearings", "ballbearing": "ball bearing", "cakelid": "cake lid",
    "fryingpan": "frying pan", "shaver": "electric shaver", "cuisanart": "", "efx": "", "dubhit": "hit",
    "rhythmicloop": "", "morehighs": "", "hasclipping": "", "fromsametrack": "", "verycompressed": "",
    "astring": "string", "bstring": "string", "dstring": "string", "gstring": "string", "estring": "string",
    "prep": "prepared", "mooo": "cow mooing", "quack": "duck quacking", "kaos": "synth", "sub": "sub bass",
    "aluminumhit": "aluminum hit", "shortscrape": "scrape", "bul": "bull", "hh": "hi-hat", "this": "", "is": "",
}
# Pitch, take and variant words: users never type them and they split one sound into fake classes.
_DROP = _wordset(
    "high higher highmid low lower lowmid mid note notes loop loops fx short long plural version take alt var "
    "loud soft med medium clipped fast slow wtf supposedly perhaps maybe someone misc random strange sound sounds "
    "sample multi layered octave octaves glissando tritones thirds fifths minor major phrase scale solo "
    "aa oo ee do re mi fa sol lowersol la ti lo wav filtered rhythmic sus plain faded wholesteps th ths nd rd x"
)
# Labels that still mean nothing after cleaning (people's names for one-off gadgets, catch-alls).
_MEANINGLESS = _wordset(
    "ritz laramin sorkinamin enotherapy bongiovannitones ahntone chotone fishertone larsontone mcbridetone "
    "molinaritone murphytone mintone whitley dripamin monsteramin truvan bilatone chong impulse hit misc "
    "sound collage martin sounds formant modulator decent fume baffle picture print board lath peel ring "
    "roll spin crash slam twirl pling ting thud thump stone tape rubber straw thread whiff"
)
_PITCH = re.compile(r"^[a-g][#b]?\d*$")
_STOP = _wordset("a an the of on in into with and to from by at for through")
# Words too generic to make two labels the same sound ("metal hit" vs "piano hit").
_GENERIC = _STOP | _wordset(
    "hit hits hitting small big large heavy light tiny sound noise noises short long distant close loud soft "
    "being something metal metallic plastic wood wooden glass paper sharp"
)
# Words that put a label in a family whose members a text prompt cannot tell apart in a mixture.
_FAMILY = {
    "voice": "speech", "voices": "speech", "vocal": "speech", "speaking": "speech", "saying": "speech",
    "speech": "speech", "talking": "speech", "man": "speech", "woman": "speech", "person": "speech",
    "male": "speech", "female": "speech", "child": "speech", "girl": "speech", "boy": "speech",
    "singing": "speech", "people": "speech", "crowd": "speech", "laughter": "speech", "laughing": "speech",
    "footstep": "footsteps", "walking": "footsteps", "running": "footsteps", "steps": "footsteps",
    "rain": "rain", "raining": "rain", "drizzle": "rain", "thunder": "rain", "storm": "rain",
    "drum": "drum", "snare": "drum", "kick": "drum", "tom": "drum", "cymbal": "drum", "hat": "drum", "hi-hat": "drum",
    "rimshot": "drum",
    "synth": "synth", "synthesizer": "synth", "arpeggio": "synth", "vocoder": "synth", "theremin": "synth",
    "piano": "piano", "keyboard": "piano", "water": "water", "river": "water", "stream": "water",
    "waterfall": "water", "bubbles": "water", "splash": "water", "engine": "engine", "motor": "engine",
    "car": "engine", "truck": "engine", "bird": "bird", "birds": "bird", "chirping": "bird", "singing bird": "bird",
    "wind": "wind", "fire": "fire", "crackling": "fire",
}


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z#]+(?:['-][a-z]+)?|\d+", text.lower())


def _fsdd(raw: str) -> str | None:
    match = re.search(r'saying\s+"?([a-z]+)"?', raw.lower())
    return f"person saying {match.group(1)}" if match else None


def clean_label(raw: str, source: str) -> str | None:
    """Return a short lowercase prompt-like label for a manifest label, or None when nothing meaningful is left.

    `source` picks source-specific rules: FSDD labels ('speech: a person saying "zero"') become
    "person saying zero"; hand-labelled sources only get normalised; Berklee file-name labels get glued words
    split, abbreviations expanded and pitch/take/variant words dropped.
    """
    if "fsdd" in source.lower():
        return _fsdd(raw)
    if "berklee" not in source.lower():
        label = " ".join(re.sub(r"[^a-z0-9#'\- ]", " ", raw.lower().replace("_", " ")).split())
        return label if len(label) >= 3 else None
    words: list[str] = []
    for token in _tokens(raw.replace("_", " ").replace("-", " ")):
        token = re.sub(r"\d+$", "", token)  # take numbers glued to words: "analogsynth2", "scraping2"
        if not token or token.isdigit() or token in _DROP:
            continue
        fixed = _FIXES.get(token, token)
        words.extend(fixed.split())
    # Single pitch letters ("piano c", "bamboo a#"), keeping the article "a" when a word follows it.
    words = [w for i, w in enumerate(words) if not _PITCH.match(w) or (w == "a" and i + 1 < len(words))]
    while words and words[-1] in _STOP:
        words.pop()
    while words and words[0] in _STOP - {"a"}:
        words.pop(0)
    deduped = [w for i, w in enumerate(words) if i == 0 or w != words[i - 1]]
    label = " ".join(deduped)
    content = [w for w in deduped if w not in _STOP]
    if not content or len(label) < 3 or all(w in _MEANINGLESS for w in content):
        return None
    return label


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 3 and word.endswith("es") and word[-3] in "sxhz":
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word


_GENERIC_STEMS = frozenset(_stem(w) for w in _GENERIC)


def content_words(label: str) -> frozenset[str]:
    """Stemmed, non-generic words of a label plus its family tags: the unit of 'same kind of sound'.

    A label made only of generic words ("metal") keeps them, so it still has a content.
    """
    words = [w for w in _tokens(label) if not w.isdigit()]
    specific = [w for w in words if w not in _GENERIC] or [w for w in words if w not in _STOP]
    out = set()
    for word in specific:
        out.add(_stem(word))
        if word in _FAMILY:
            out.add("family:" + _FAMILY[word])
    return frozenset(out)


def related(a: str, b: str) -> bool:
    """True when two labels are too close for a prompt naming one to exclude the other.

    Shared content word or family ("dog barking"/"dog growling", "man speaking"/"person saying two",
    "kick drum"/"snare drum") counts as related; mixing such pairs would teach the model contradictory targets.
    """
    if a == b or content_words(a) & content_words(b):
        return True
    # A label made only of generic words ("metal") relates to every label that uses them ("metal drop").
    plain_a, plain_b = ({_stem(w) for w in _tokens(x) if w not in _STOP} for x in (a, b))
    return any(not (x - _GENERIC_STEMS) and x <= y for x, y in ((plain_a, plain_b), (plain_b, plain_a)))


def related_to_any(label: str, terms: Sequence[str]) -> bool:
    """True when `label` is `related` to one of `terms`: what a label holdout drops from training and what the
    benchmark's `--labels` then scores, so both sides of the zero-shot diagnostic agree on what was held out."""
    return any(related(label, t) for t in terms)
