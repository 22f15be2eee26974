"""Scoring on the real-world benchmark: each source asked for by its own name, and the prompt-swap test.

For every item the separator is asked twice, once per source's name. Each answer is scored against its own source
(SDRi, AudioSep's SNR-style SDR), beside the two references of the same run: the unprocessed mixture (SDR of doing
nothing) and the oracle ideal ratio mask (the ceiling of a magnitude mask on the model's STFT). The prompt-swap
distance 10·log10(|ŝ_a − ŝ_b|² / |mixture|²) says whether the prompt matters: a model that follows it returns the
two sources, whose difference carries about the mixture's energy (≈ 0 dB); a prompt-blind one returns the same
sound twice (very negative). Each answer's energy and its residual's, relative to the mixture, say how it failed
when it did: an answer near silence means the model judged the sound absent, a residual near silence means it
returned everything, and two audible answers that barely differ mean it ignored the prompt (the mean swap distance
in dB is dominated by these items, so their share says more than the mean does).

`solo_rows` asks the same question without a mixture: each source alone, under its own name and under others'.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from lasso import KINDS, BenchmarkItem, Separator
from lasso.metrics import frame_activity, oracle_irm, sdri, snr_sdr

_EPS = 1e-12
ONE_SHOT_SHARE = 0.4  # a source active in less than this share of its excerpt's frames counts as a one-shot
NEAR_SILENT_DB = -20.0  # an answer (or its residual) this far below the mixture's energy counts as silence
SAME_ANSWER_DB = -10.0  # two audible answers closer than this (swap distance) are the same sound: prompt-blind


def energy_db(x: np.ndarray, reference: np.ndarray) -> float:
    x, reference = np.asarray(x, np.float64).reshape(-1), np.asarray(reference, np.float64).reshape(-1)
    return float(10 * np.log10((x @ x + _EPS) / (reference @ reference + _EPS)))


def swap_distance_db(est_a: np.ndarray, est_b: np.ndarray, mixture: np.ndarray) -> float:
    """How far apart the answers to the two prompts are, relative to the mixture's energy (dB)."""
    return energy_db(np.asarray(est_a, np.float64) - np.asarray(est_b, np.float64), mixture)


def score_item(separator: Separator, item: BenchmarkItem, **options: Any) -> dict[str, Any]:
    """One row: model and oracle SDRi of each source under its own prompt, the mixture's SDR, the swap distance.

    `options` go to `Separator.separate` (acceleration, reranking_candidates, predict_spans), so inference options
    are judged on the same items."""
    model = separator.model
    results = {side: separator.separate(item.mixture, item.sample_rate, prompt, **options)
               for side, prompt in (("a", item.prompt_a), ("b", item.prompt_b))}
    est = {side: result.target.reshape(-1) for side, result in results.items()}
    device = model.window.device
    row: dict[str, Any] = {"id": item.id, "kind": item.kind, "prompt_a": item.prompt_a, "prompt_b": item.prompt_b,
                           "recording_a": item.recording_a, "recording_b": item.recording_b}
    for side, ref in (("a", item.a), ("b", item.b)):
        if results[side].candidates:  # reranked: every candidate's SDRi, to see what a perfect judge would pick
            row[f"candidate_sdri_{side}"] = [sdri(ref, c["target"].reshape(-1), item.mixture)
                                             for c in results[side].candidates]
            row[f"chosen_{side}"] = next(c["index"] for c in results[side].candidates if c["chosen"])
        irm = oracle_irm(ref, item.mixture, lambda w: model.stft(w.to(device)), model.istft)
        row[f"sdri_{side}"] = sdri(ref, est[side], item.mixture)
        row[f"irm_sdri_{side}"] = sdri(ref, irm, item.mixture)
        row[f"mix_sdr_{side}"] = snr_sdr(ref, item.mixture)
        row[f"active_{side}"] = float(frame_activity(ref, model.cfg.hop).mean())
        row[f"answer_db_{side}"] = energy_db(est[side], item.mixture)
        row[f"rest_db_{side}"] = energy_db(item.mixture.reshape(-1) - est[side], item.mixture)
    row["swap_db"] = swap_distance_db(est["a"], est["b"], item.mixture)
    return row


def score(separator: Separator, items: Sequence[BenchmarkItem],
          progress: Callable[[Iterable], Iterable] = iter, **options: Any) -> list[dict[str, Any]]:
    return [score_item(separator, item, **options) for item in progress(items)]


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per kind (and `all`): means of model SDRi for source a, source b and both, oracle SDRi, mixture SDR, swap."""
    out = {}
    for kind in _kinds(rows):
        rs = [r for r in rows if kind in ("all", r["kind"])]
        if not rs:
            continue

        def mean(*keys: str, rs=rs) -> float:
            return float(np.mean([r[k] for r in rs for k in keys]))

        out[kind] = {"items": len(rs), "sdri_a": mean("sdri_a"), "sdri_b": mean("sdri_b"),
                     "sdri": mean("sdri_a", "sdri_b"), "irm_sdri": mean("irm_sdri_a", "irm_sdri_b"),
                     "mix_sdr": mean("mix_sdr_a", "mix_sdr_b"), "swap_db": mean("swap_db")}
        if all("answer_db_a" in r for r in rs):  # rows of runs before these columns existed lack them
            out[kind] |= {"silent": _share(rs, "answer_db"), "whole": _share(rs, "rest_db"), "same": _same_share(rs)}
    return out


def _kinds(rows: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    """The benchmark's kinds, then any diagnostic kind the rows have (the zero-shot pairs), then "all"."""
    return (*KINDS, *sorted({r["kind"] for r in rows} - set(KINDS)), "all")


def _share(rows: Sequence[dict[str, Any]], key: str) -> float:
    """Share of the answers (both sides of every row) whose `key` energy is below NEAR_SILENT_DB."""
    return float(np.mean([r[f"{key}_{side}"] < NEAR_SILENT_DB for r in rows for side in ("a", "b")]))


def _same_share(rows: Sequence[dict[str, Any]]) -> float:
    """Share of the items whose two answers are both audible and yet the same sound (the prompt was ignored)."""
    return float(np.mean([r["swap_db"] < SAME_ANSWER_DB and min(r["answer_db_a"], r["answer_db_b"]) >= NEAR_SILENT_DB
                          for r in rows]))


SOLO_NAMES = 8  # a kind asked for by at most this many names (music: 4) gets the full confusion matrix
SOLO_KEPT_DB = -3.0  # a source alone, asked for by its own name, must come back with at least half its energy...
SOLO_LEAK_DB = NEAR_SILENT_DB  # ...and asked for by another sound's name, near silence (below itself): told apart


def confusion_names(items: Sequence[BenchmarkItem]) -> dict[str, list[str]]:
    """The names of each kind asked for by at most SOLO_NAMES names: every source of such a kind is also asked for by
    each of them (the confusion matrix). Environmental pairs have hundreds of names; a matrix would be mostly empty."""
    prompts = {kind: sorted({p for it in items if it.kind == kind for p in (it.prompt_a, it.prompt_b)})
               for kind in {it.kind for it in items}}
    return {kind: names for kind, names in sorted(prompts.items()) if len(names) <= SOLO_NAMES}


def solo_rows(separator: Separator, items: Sequence[BenchmarkItem], names: Mapping[str, Sequence[str]] | None = None,
              progress: Callable[[Iterable], Iterable] = iter, **options: Any) -> list[dict[str, Any]]:
    """Each source of each item played alone and asked for by its own name, by its partner's name and by every name
    `names` lists for the item's kind: one row per answer, its energy relative to the source in dB (0: all of it,
    very negative: silence).

    In a mixture a prompt-blind answer can still score, when the salient sound happens to be the one asked for, and a
    poor SDRi does not say whether the model could not find the sound or could not tell it from its neighbour. Alone,
    there is nothing to separate: a source asked for by its own name must come back whole and by another sound's
    name silent (v6 returns a saxophone whole when asked for a piano)."""
    names = names or {}
    rows = []
    for item in progress(items):
        for own, partner, source in ((item.prompt_a, item.prompt_b, item.a), (item.prompt_b, item.prompt_a, item.b)):
            if not np.any(source):
                continue
            for asked in dict.fromkeys([own, partner, *names.get(item.kind, ())]):
                answer = separator.separate(source, item.sample_rate, asked, **options).target
                role = "own" if asked == own else "partner" if asked == partner else "other"
                rows.append({"id": item.id, "kind": item.kind, "source": own, "asked": asked, "role": role,
                             "answer_db": energy_db(answer, source)})
    return rows


def solo_summary(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per kind (and `all`): median energy kept under the source's own name and leaked under its partner's, and the
    share of sources told apart (kept above SOLO_KEPT_DB and leaked below SOLO_LEAK_DB)."""
    out = {}
    for kind in _kinds(rows):
        answers: dict[tuple[str, str], dict[str, float]] = {}
        for r in rows:
            if kind in ("all", r["kind"]) and r["role"] != "other":
                answers.setdefault((r["id"], r["source"]), {})[r["role"]] = r["answer_db"]
        pairs = [a for a in answers.values() if len(a) == 2]
        if pairs:
            kept, leaked = (np.array([a[role] for a in pairs]) for role in ("own", "partner"))
            out[kind] = {"sources": len(pairs), "kept": float(np.median(kept)), "leaked": float(np.median(leaked)),
                         "apart": float(np.mean((kept > SOLO_KEPT_DB) & (leaked < SOLO_LEAK_DB)))}
    return out


def confusion(rows: Sequence[dict[str, Any]], kind: str) -> dict[str, dict[str, float]]:
    """For one kind: per source label, per name asked, the median energy of the answer (rows of `solo_rows`). A
    model that follows the prompt has 0 dB on the diagonal and silence elsewhere."""
    acc: dict[str, dict[str, list[float]]] = {}
    for r in rows:
        if r["kind"] == kind:
            acc.setdefault(r["source"], {}).setdefault(r["asked"], []).append(r["answer_db"])
    return {src: {asked: float(np.median(v)) for asked, v in sorted(by.items())} for src, by in sorted(acc.items())}


def solo_markdown(solo_by_system: Mapping[str, Sequence[dict[str, Any]]], kinds: Sequence[str] = ()) -> str:
    """`solo_summary` per system and kind, then the `confusion` of each of `kinds` per system."""
    lines = [f"| model | kind | sources | kept under its own name | leaked under its partner's | told apart "
             f"(kept > {SOLO_KEPT_DB:.0f} dB, leaked < {SOLO_LEAK_DB:.0f} dB) |", "|" + " --- |" * 6]
    for name, rows in solo_by_system.items():
        for k, s in solo_summary(rows).items():
            lines.append(f"| {name} | {k} | {s['sources']} | {s['kept']:+.1f} dB | {s['leaked']:+.1f} dB | "
                         f"{s['apart']:.0%} |")
    for name, rows in solo_by_system.items():
        for kind in kinds:
            matrix = confusion(rows, kind)
            if not matrix:
                continue
            asked = sorted({a for by in matrix.values() for a in by})
            lines += ["", f"| {name}: {kind} source alone (sources) | "
                      + " | ".join(f"asked '{a}'" for a in asked) + " |", "|" + " --- |" * (len(asked) + 1)]
            for src, by in matrix.items():
                n = sum(r["kind"] == kind and r["source"] == src and r["role"] == "own" for r in rows)
                lines.append(f"| {src} ({n}) | " + " | ".join(f"{by[a]:+.1f} dB" if a in by else "–" for a in asked)
                             + " |")
    return "\n".join(lines)


def rerank_headroom(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per kind (and `all`), for reranked rows: mean SDRi of the plain candidate (the first: what k = 1 gives), of the
    judge's pick and of the best candidate (a perfect judge), and per candidate its mean gain over the plain one and
    how often the judge chose it.

    Whether a better judge is worth building is the distance from its pick to the best candidate, and whether the
    candidates themselves are worth making is the best candidate's distance from the plain one."""
    out = {}
    for kind in _kinds(rows):
        sides = [(r[f"candidate_sdri_{s}"], r[f"chosen_{s}"]) for r in rows if kind in ("all", r["kind"])
                 for s in ("a", "b") if f"candidate_sdri_{s}" in r]
        if not sides or len({len(c) for c, _ in sides}) > 1:
            continue
        sdr = np.array([c for c, _ in sides])
        chosen = np.array([i for _, i in sides])
        out[kind] = {"answers": len(sdr), "plain": float(sdr[:, 0].mean()),
                     "judge": float(sdr[np.arange(len(sdr)), chosen].mean()), "best": float(sdr.max(1).mean()),
                     "gain": (sdr - sdr[:, :1]).mean(0).tolist(),
                     "chosen": (np.bincount(chosen, minlength=sdr.shape[1]) / len(sdr)).tolist()}
    return out


def headroom_markdown(rows_by_system: Mapping[str, Sequence[dict[str, Any]]], variants: Sequence[str]) -> str:
    """Two tables per reranked system: plain / judge / best candidate per kind, then each candidate (`variants`
    names them in order) with its mean gain over the plain one and how often the judge chose it."""
    parts = []
    for name, rows in rows_by_system.items():
        head = rerank_headroom(rows)
        if not head:
            continue
        lines = [f"| {name} | answers | plain (k = 1) | judge's pick | best candidate |", "|" + " --- |" * 5]
        lines += [f"| {kind} | {h['answers']} | {h['plain']:.2f} | {h['judge']:.2f} | {h['best']:.2f} |"
                  for kind, h in head.items()]
        kinds = list(head)
        lines += ["", "| candidate | " + " | ".join(f"{k}: gain, chosen" for k in kinds) + " |",
                  "|" + " --- |" * (len(kinds) + 1)]
        for i, variant in enumerate(variants[:len(head["all"]["gain"])]):
            lines.append(f"| {i + 1}. {variant} | " + " | ".join(
                f"{head[k]['gain'][i]:+.2f} dB, {head[k]['chosen'][i]:.0%}" for k in kinds) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def paired_gain(base: Sequence[dict[str, Any]], other: Sequence[dict[str, Any]], *, resamples: int = 2000,
                seed: int = 0) -> dict[str, dict[str, float]]:
    """Per kind (and `all`): mean SDRi gain of `other` over `base` on the items both scored, with a 95 % bootstrap
    interval over recordings, the median gain and the share of items gained.

    Snapshots 1,000 steps apart differ by up to 0.7 dB on one kind, so a ship or stop decision needs to know whether
    a gain is larger than the spread; an interval that excludes 0 says it is. The spread that matters is between
    recordings, not items: the benchmark cuts up to ten items from one recording, and a fine-tune that stops finding
    one ("swords clashing", 22.6 to 8.2 dB on all six of its items) moves them together, so resampling items
    treats six draws of one fact as six facts. Each source is resampled with every other source cut from its
    recording group (`recording_a`/`recording_b`; rows without them fall back to their item, both sources together).
    The median and the share say whether a mean is carried by a few items: a sound active for a twentieth of a clip
    set at 0 dB over the whole clip is so loud while it sounds that its SDRi swings by 30 dB between snapshots."""
    base_by_id = {r["id"]: r for r in base}
    out = {}
    for kind in _kinds(other):
        pairs = [(r, base_by_id[r["id"]]) for r in other if kind in ("all", r["kind"]) and r["id"] in base_by_id]
        if not pairs:
            continue
        gains = np.array([[r[f"sdri_{s}"] - b[f"sdri_{s}"] for s in "ab"] for r, b in pairs])  # [items, sides]
        groups = [r.get(f"recording_{s}") or r["id"] for r, _ in pairs for s in "ab"]
        names, group = np.unique(groups, return_inverse=True)
        sums = np.bincount(group, weights=gains.reshape(-1), minlength=len(names))
        counts = np.bincount(group, minlength=len(names))
        draws = np.random.default_rng(seed).integers(len(names), size=(resamples, len(names)))
        low, high = np.percentile(sums[draws].sum(axis=1) / counts[draws].sum(axis=1), [2.5, 97.5])
        item_gains = gains.mean(axis=1)
        out[kind] = {"items": len(pairs), "recordings": len(names), "gain": float(item_gains.mean()),
                     "low": float(low), "high": float(high), "median": float(np.median(item_gains)),
                     "better": float(np.mean(item_gains > 0))}
    return out


def gains_markdown(rows_by_system: Mapping[str, Sequence[dict[str, Any]]], base: str) -> str:
    """One table: each system's `paired_gain` over `base`, per kind."""
    lines = [f"| model | kind | items | recordings | SDRi gain over {base} | 95 % interval | median gain | "
             "items gained |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, rows in rows_by_system.items():
        if name != base:
            for kind, g in paired_gain(rows_by_system[base], rows).items():
                lines.append(f"| {name} | {kind} | {g['items']} | {g['recordings']} | {g['gain']:+.2f} dB | "
                             f"{g['low']:+.2f} to {g['high']:+.2f} dB | {g['median']:+.2f} dB | {g['better']:.0%} |")
    return "\n".join(lines)


def by_prompt(rows: Sequence[dict[str, Any]], kind: str | None = None) -> dict[str, dict[str, float]]:
    """Per prompted class (each source under its own name): mean model and oracle SDRi and how many sources; where a
    kind's average hides which sounds the model cannot find."""
    acc: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        if kind in (None, r["kind"]):
            for side in ("a", "b"):
                acc.setdefault(r[f"prompt_{side}"], []).append((r[f"sdri_{side}"], r[f"irm_sdri_{side}"]))
    return {p: {"sdri": float(np.mean([m for m, _ in v])), "irm_sdri": float(np.mean([o for _, o in v])),
                "sources": len(v)} for p, v in sorted(acc.items())}


def prompts_markdown(rows_by_system: dict[str, Sequence[dict[str, Any]]], kind: str) -> str:
    """One table of `by_prompt` for one kind: per system and class asked for, model and oracle SDRi. Music has a
    handful of instruments, so one the model never learnt (v6's piano, -0.2 dB) shows here and not in the mean."""
    lines = ["| model | asked for | sources | SDRi | oracle IRM SDRi |", "| --- | --- | --- | --- | --- |"]
    for name, rows in rows_by_system.items():
        for prompt, s in by_prompt(rows, kind).items():
            lines.append(f"| {name} | {prompt} | {s['sources']} | {s['sdri']:.2f} | {s['irm_sdri']:.2f} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def _grouped(rows: Sequence[dict[str, Any]], group_of: Callable[[dict[str, Any], str], str | None],
             order: Sequence[str] | None = None) -> dict[str, dict[str, dict[str, float]]]:
    """Per kind: mean SDRi and count of the sources (each side of each row) that `group_of` puts in each group."""
    out: dict[str, dict[str, list[float]]] = {}
    for r in rows:
        for side in ("a", "b"):
            group = group_of(r, side)
            if group is not None:
                out.setdefault(r["kind"], {}).setdefault(group, []).append(r[f"sdri_{side}"])
    rank = {g: i for i, g in enumerate(order or ())}
    return {kind: {k: {"sdri": float(np.mean(v)), "sources": len(v)}
                   for k, v in sorted(groups.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0]))}
            for kind, groups in out.items()}


def by_density(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per kind: mean SDRi of sources asked for when they are one-shots (active in under 40 % of the excerpt) and
    when they are continuous, each split by what the other source is. A kind's mean hides that a model can be good
    at beds and poor at barks, or the other way round."""
    def shape(r: dict[str, Any], side: str) -> str | None:
        if "active_a" not in r:
            return None
        asked, under = (("one-shot" if r[f"active_{s}"] < ONE_SHOT_SHARE else "continuous")
                        for s in (side, "b" if side == "a" else "a"))
        return f"{asked} over {under}"
    return _grouped(rows, shape)


TRAINING_CLIP_BINS = ((0, "unseen"), (2, "1-2 clips"), (10, "3-10 clips"), (30, "11-30 clips"), (None, "over 30 clips"))


def by_training_count(rows: Sequence[dict[str, Any]], counts: Mapping[str, int]) -> dict[str, dict[str, dict]]:
    """Per kind: mean SDRi of sources grouped by how many training clips carry their prompt's label (`counts`).
    Rare labels are where a model falls back to extracting the salient sound whatever it is asked for, so this says
    whether more data or a better text side would pay."""
    def size(r: dict[str, Any], side: str) -> str:
        n = counts.get(r[f"prompt_{side}"], 0)
        return next(name for top, name in TRAINING_CLIP_BINS if top is None or n <= top)
    return _grouped(rows, size, [name for _, name in TRAINING_CLIP_BINS])


def groups_markdown(rows_by_system: dict[str, Sequence[dict[str, Any]]],
                    grouping: Callable[[Sequence[dict[str, Any]]], dict[str, dict[str, dict]]]) -> str:
    """One table: per system, kind and group of `grouping` (`by_density`, or `by_training_count` with its counts
    bound), the SDRi of the sources in the group."""
    lines = ["| model | kind | asked for | sources | SDRi |", "| --- | --- | --- | --- | --- |"]
    for name, rows in rows_by_system.items():
        for kind, groups in grouping(rows).items():
            for group, s in groups.items():
                lines.append(f"| {name} | {kind} | {group} | {s['sources']} | {s['sdri']:.2f} |")
    return "\n".join(lines)


def markdown(summaries: dict[str, dict[str, dict[str, float]]]) -> str:
    """One table, a row per (system, kind): `summaries` maps a system name (a checkpoint) to `summarize`'s output."""
    lines = ["| model | kind | items | SDRi a | SDRi b | SDRi (both) | oracle IRM SDRi | mixture SDR | prompt swap "
             "| answers silent | answers whole | same answer to both |", "|" + " --- |" * 12]
    for name, summary in summaries.items():
        for kind, s in summary.items():
            shares = " | ".join(f"{s[k]:.0%}" if k in s else "–" for k in ("silent", "whole", "same"))
            lines.append(f"| {name} | {kind} | {s['items']} | {s['sdri_a']:.2f} | {s['sdri_b']:.2f} | "
                         f"{s['sdri']:.2f} | {s['irm_sdri']:.2f} | {s['mix_sdr']:.2f} | {s['swap_db']:.1f} dB | "
                         f"{shares} |")
    return "\n".join(lines)
