"""Realisation: English sentences for logical forms, with paraphrases drawn from small grammars.

The realiser never decides what an expression refers to; it only words a logical form. It
looks at the scene for one thing: how many objects a set holds, to choose between "the star"
and "the stars", or to say "the square on the left" only when there are two squares.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from grefbench.data.synth.logic import ATTRIBUTES, Entity, LogicalForm, evaluate_set

NUMBERS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}
SIZE_WORDS = {"small": ("small", "little"), "medium": ("medium", "medium-sized"), "large": ("large", "big")}
GENERIC_NOUNS = (("shape", "shapes"), ("object", "objects"))

EXTREME_PHRASES = {
    "left": ("the leftmost {sg}", "the {sg} furthest to the left", "the {sg} on the far left"),
    "right": ("the rightmost {sg}", "the {sg} furthest to the right", "the {sg} on the far right"),
    "top": ("the topmost {sg}", "the highest {sg}", "the {sg} closest to the top"),
    "bottom": ("the lowest {sg}", "the bottommost {sg}", "the {sg} closest to the bottom"),
}
PAIR_PHRASES = {  # one of exactly two
    "left": ("the {sg} on the left", "the left {sg}"),
    "right": ("the {sg} on the right", "the right {sg}"),
    "top": ("the upper {sg}", "the higher {sg}"),
    "bottom": ("the lower {sg}", "the {sg} further down"),
}
SIDE_PHRASES = {
    "left": ("the {pl} on the left", "all {pl} on the left side", "the {pl} in the left half",
             "every {sg} in the left half"),
    "right": ("the {pl} on the right", "all {pl} on the right side", "the {pl} in the right half",
              "every {sg} in the right half"),
    "top": ("the {pl} in the top half", "all {pl} in the upper half", "the {pl} in the upper part of the image"),
    "bottom": ("the {pl} in the bottom half", "all {pl} in the lower half", "the {pl} in the lower part of the image"),
}


class _Wording:
    """Word choices for one sentence: the generic noun stays the same throughout it."""

    def __init__(self, rng: np.random.Generator, entities: Sequence[Entity], image_size: float):
        self.rng = rng
        self.entities = entities
        self.image_size = image_size
        self.generic = GENERIC_NOUNS[0] if rng.random() < 0.7 else GENERIC_NOUNS[1]

    def pick(self, options: Sequence[str]) -> str:
        return options[int(self.rng.integers(len(options)))]

    def size_of(self, node: LogicalForm) -> int:
        return len(evaluate_set(node, self.entities, self.image_size))

    def adjectives(self, node: LogicalForm, keys: Sequence[str] = ("size", "colour")) -> list[str]:
        words = []
        if "size" in keys and node.get("size"):
            words.append(self.pick(SIZE_WORDS[node["size"]]))
        if "colour" in keys and node.get("colour"):
            words.append(node["colour"])
        return words

    def noun(self, node: LogicalForm, plural: bool) -> str:
        shape = node.get("shape")
        if shape:
            return shape + "s" if plural else shape
        return self.generic[1] if plural else self.generic[0]

    def phrase(self, node: LogicalForm, plural: bool) -> str:
        """'large red circle(s)' for a filter."""
        return " ".join(self.adjectives(node) + [self.noun(node, plural)])


def realise(form: LogicalForm, entities: Sequence[Entity], image_size: float, rng: np.random.Generator) -> str:
    """One wording of a referring form."""
    return _referring(form, _Wording(rng, entities, image_size))


def _referring(form: LogicalForm, wording: _Wording) -> str:
    op = form["op"]
    if op == "and":
        parts = [_referring(part, wording) for part in form["args"]]
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    inner = form["of"]
    if op == "the":
        if inner["op"] == "extreme":
            return _extreme(inner, wording)
        return "the " + _set_phrase(inner, wording, plural=False)
    if op == "count":
        n = form["n"]
        plural = _set_phrase(inner, wording, plural=True)
        options = [f"the {NUMBERS[n]} {plural}"]
        options.append(f"both {plural}" if n == 2 else f"all {NUMBERS[n]} {plural}")
        return wording.pick(options)
    if op == "all":
        return _all(inner, wording)
    raise ValueError(f"cannot realise referring form {op!r}")


def _set_phrase(node: LogicalForm, wording: _Wording, *, plural: bool) -> str:
    if node["op"] != "filter":
        raise ValueError(f"expected a filter under a determiner, got {node['op']!r}")
    return wording.phrase(node, plural)


def _extreme(node: LogicalForm, wording: _Wording) -> str:
    base, direction = node["of"], node["direction"]
    singular = wording.phrase(base, plural=False)
    options = list(EXTREME_PHRASES[direction])
    if wording.size_of(base) == 2:
        # "the left medium-sized orange star" reads badly; "the left star" is fine.
        short = len(singular.split()) <= 2
        options += [phrase for phrase in PAIR_PHRASES[direction] if short or phrase.startswith("the {sg}")]
    return wording.pick(options).format(sg=singular)


def _all(node: LogicalForm, wording: _Wording) -> str:
    if node["op"] == "filter":
        singular, plural = wording.phrase(node, False), wording.phrase(node, True)
        options = [f"all {plural}", f"all the {plural}", f"every {singular}", f"the {plural}"]
        if wording.size_of(node) == 2:
            options.append(f"both {plural}")
        if not any(node.get(key) for key in ATTRIBUTES):
            options.append("everything")
        return wording.pick(options)
    if node["op"] == "side":
        base = node["of"]
        template = wording.pick(SIDE_PHRASES[node["side"]])
        return template.format(sg=wording.phrase(base, False), pl=wording.phrase(base, True))
    if node["op"] == "except":
        return _exclusion(node["of"], node["minus"], wording)
    raise ValueError(f"cannot realise 'all' over {node['op']!r}")


def _exclusion(base: LogicalForm, minus: LogicalForm, wording: _Wording) -> str:
    """'every shape except the stars', 'all circles except the blue one', 'all shapes that are not red'."""
    several = wording.size_of(minus) > 1
    base_singular, base_plural = wording.phrase(base, False), wording.phrase(base, True)
    base_keys = {key for key in ATTRIBUTES if base.get(key)}
    extra = [key for key in ATTRIBUTES if minus.get(key) and key not in base_keys]
    refines = all(minus.get(key) == base.get(key) for key in base_keys)
    options: list[str] = []
    if refines and "shape" not in extra and base_keys:
        one = "ones" if several else "one"
        adjectives = " ".join(wording.adjectives(minus, extra))
        excluded = f"the {adjectives} {one}"
        options += [f"all {base_plural} except {excluded}", f"every {base_singular} except {excluded}",
                    f"all {base_plural} but {excluded}", f"the {base_plural} other than {excluded}"]
    else:
        if refines:
            # Name the excluded ones by what they add to the base: "all blue shapes except the stars".
            shown = {"op": "filter", **{key: minus[key] for key in extra}}
            minus_phrase = "the " + wording.phrase(shown, several)
        else:
            minus_phrase = "the " + wording.phrase(minus, several)
        options += [f"every {base_singular} except {minus_phrase}", f"all {base_plural} except {minus_phrase}",
                    f"all {base_plural} but {minus_phrase}", f"all {base_plural} other than {minus_phrase}"]
        if not base_keys:
            options.append(f"everything except {minus_phrase}")
    if refines and extra == ["colour"]:
        colour = minus["colour"]
        options += [f"all {base_plural} that are not {colour}", f"every {base_singular} that is not {colour}"]
    if refines and extra == ["shape"] and not base_keys:
        shape = minus["shape"]
        options += [f"all {base_plural} that are not {shape}s", f"every {base_singular} that is not a {shape}"]
    return wording.pick(options)


def normalise(raw: str) -> tuple[str, list[str]]:
    """The REFER-style `sent` (lower case, punctuation dropped) and its tokens."""
    sent = re.sub(r"[^a-z0-9\- ]+", " ", raw.lower())
    tokens = sent.split()
    return " ".join(tokens), tokens
