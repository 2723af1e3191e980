"""Choosing what to say: logical forms for single-target, multi-target and no-target references.

For each kind the scene offers families of candidate forms (attribute descriptions, extremes,
plurals, counts, sides, conjunctions, exclusions, absent combinations, wrong counts). A family
is drawn by weight, then a form within it; the form's referents are computed by the evaluator,
and a form is kept only when they fit its kind (one object, several, none). A singular "the ..."
is only ever used when its set has exactly one member (or none, for a no-target reference).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from grefbench.data.synth import logic
from grefbench.data.synth.attributes import COLOURS, is_novel
from grefbench.data.synth.language import realise
from grefbench.data.synth.logic import DIRECTIONS, Entity, LogicalForm

EXTREME_MARGIN = 0.08  # of the image side: the winner must lead the runner-up by this much
MIDLINE_MARGIN = 0.06  # of the image side: "in the left half" needs every candidate this far from it
SECOND_SENTENCE = 0.35  # chance of a paraphrase beside the first sentence
NO_TARGET_SHARE = 0.125
MULTI_TARGET_SHARE = 1 / 3

ATTRIBUTE_SUBSETS: dict[tuple[str, ...], float] = {  # single-target descriptions and their weights
    ("shape",): 1.0, ("colour", "shape"): 2.0, ("size", "shape"): 1.5, ("size", "colour", "shape"): 1.0,
    ("colour",): 0.7, ("size",): 0.3, ("size", "colour"): 0.4,
}

Policy = Callable[[LogicalForm, frozenset[int]], bool]


@dataclass(frozen=True)
class Expression:
    """A referring expression: its logical form, its referents and one or two wordings."""

    form: LogicalForm
    targets: frozenset[int]
    kind: str  # "single", "multi" or "no_target"
    sentences: tuple[str, ...]


def kind_of(targets: frozenset[int]) -> str:
    return "no_target" if not targets else "single" if len(targets) == 1 else "multi"


def split_policy(split: str, entities: Sequence[Entity]) -> Policy:
    """Which forms a split may use: testB needs a held-out pair, the others must avoid them."""
    novel_objects = frozenset(index for index, entity in enumerate(entities)
                              if is_novel(entity.colour, entity.shape))

    def mentions_novel(form: LogicalForm) -> bool:
        return any(is_novel(colour, shape) for colour, shape in logic.mentioned_pairs(form))

    if split == "testB":
        return lambda form, targets: bool(targets & novel_objects) or mentions_novel(form)
    return lambda form, targets: not mentions_novel(form) and not (targets & novel_objects)


def plan_kinds(rng: np.random.Generator, object_count: int) -> list[str]:
    """The kinds of this image's references: 3 or 4, about a third multi-target, 1 in 8 no-target."""
    total = 3 if object_count <= 4 else 4
    no_target = int(rng.random() < NO_TARGET_SHARE * total)
    expected_multi = MULTI_TARGET_SHARE * total
    multi = int(expected_multi) + int(rng.random() < expected_multi - int(expected_multi))
    kinds = ["no_target"] * no_target + ["multi"] * multi + ["single"] * (total - no_target - multi)
    return [kinds[index] for index in rng.permutation(len(kinds))]


def generate_expressions(
    entities: Sequence[Entity], image_size: float, split: str, rng: np.random.Generator
) -> list[Expression]:
    """References for one scene, each checked by the evaluator and worded once or twice."""
    chooser = _Chooser(entities, image_size, split_policy(split, entities), rng)
    expressions: list[Expression] = []
    fallbacks = {"single": ("single", "multi"), "multi": ("multi", "single"), "no_target": ("no_target", "single")}
    for kind in plan_kinds(rng, len(entities)):
        for attempt_kind in fallbacks[kind]:
            form = chooser.choose(attempt_kind)
            if form is not None:
                break
        else:
            continue
        targets = logic.evaluate(form, entities, image_size)
        assert kind_of(targets) == attempt_kind, (form, targets)
        chooser.used.add(json.dumps(form, sort_keys=True))
        chooser.used_targets.add(targets)
        expressions.append(Expression(form, targets, attempt_kind, _wordings(form, entities, image_size, rng)))
    return expressions


def _wordings(
    form: LogicalForm, entities: Sequence[Entity], image_size: float, rng: np.random.Generator
) -> tuple[str, ...]:
    wanted = 1 + int(rng.random() < SECOND_SENTENCE)
    sentences = [realise(form, entities, image_size, rng)]
    for _ in range(6):
        if len(sentences) == wanted:
            break
        sentence = realise(form, entities, image_size, rng)
        if sentence not in sentences:
            sentences.append(sentence)
    return tuple(sentences)


class _Chooser:
    """Candidate forms of each kind for one scene, drawn by family weight."""

    def __init__(self, entities: Sequence[Entity], image_size: float, policy: Policy, rng: np.random.Generator):
        self.entities = entities
        self.image_size = image_size
        self.policy = policy
        self.rng = rng
        self.used: set[str] = set()
        self.used_targets: set[frozenset[int]] = set()
        # Families depend only on the scene, and forms recur across draws: both are computed once.
        self._families: dict[str, dict[str, tuple[float, list[LogicalForm]]]] = {}
        self._referents: dict[str, frozenset[int] | None] = {}
        self._filter_members: dict[str, frozenset[int]] = {}
        self._distinct_filters: list[LogicalForm] | None = None

    def members(self, node: LogicalForm) -> frozenset[int]:
        key = json.dumps(node, sort_keys=True)
        if key not in self._filter_members:
            self._filter_members[key] = logic.evaluate_set(node, self.entities, self.image_size)
        return self._filter_members[key]

    def choose(self, kind: str) -> LogicalForm | None:
        """A form of `kind` from a family drawn by weight, preferring referents not used yet.

        Candidates are scanned in a random order and the first acceptable one is taken, which is
        a uniform draw among the acceptable ones without evaluating them all.
        """
        if kind not in self._families:
            self._families[kind] = {"single": self._single, "multi": self._multi, "no_target": self._no_target}[kind]()
        families = {name: entry for name, entry in self._families[kind].items() if entry[1]}
        while families:
            names = sorted(families)
            weights = np.array([families[name][0] for name in names])
            name = names[int(self.rng.choice(len(names), p=weights / weights.sum()))]
            forms = families.pop(name)[1]
            fallback = None
            for position in self.rng.permutation(len(forms)):
                form = forms[position]
                targets = self._targets_if_acceptable(form, kind)
                if targets is None:
                    continue
                if targets not in self.used_targets:
                    return form
                fallback = fallback or form
            if fallback is not None:
                return fallback
        return None

    def _targets_if_acceptable(self, form: LogicalForm, kind: str) -> frozenset[int] | None:
        """The form's referents if it is new, well-formed, of `kind` and allowed in the split."""
        key = json.dumps(form, sort_keys=True)
        if key in self.used:
            return None
        if key not in self._referents:
            try:
                targets = logic.evaluate(form, self.entities, self.image_size)
            except logic.LogicalFormError:
                targets = None
            self._referents[key] = targets if targets is not None and self.policy(form, targets) else None
        targets = self._referents[key]
        return targets if targets is not None and kind_of(targets) == kind else None

    def _filters(self, include_generic: bool = True) -> list[LogicalForm]:
        """Every filter some object satisfies, one per distinct attribute combination."""
        if self._distinct_filters is None:
            seen: dict[str, LogicalForm] = {}
            for entity in self.entities:
                for subset in ATTRIBUTE_SUBSETS:
                    node = logic.filter_(**{key: getattr(entity, key) for key in subset})
                    seen.setdefault(json.dumps(node, sort_keys=True), node)
            self._distinct_filters = list(seen.values())
        return ([logic.filter_()] if include_generic else []) + self._distinct_filters

    def _clear_extreme(self, members: frozenset[int], direction: str) -> bool:
        values = sorted((logic.coordinate(self.entities[index], direction) for index in members), reverse=True)
        return len(values) >= 2 and values[0] - values[1] >= EXTREME_MARGIN * self.image_size

    def _clear_of_midline(self, members: frozenset[int], which: str) -> bool:
        axis = "x" if which in ("left", "right") else "y"
        margin = MIDLINE_MARGIN * self.image_size
        return all(abs(getattr(self.entities[index], axis) - self.image_size / 2) >= margin for index in members)

    def _single(self) -> dict[str, tuple[float, list[LogicalForm]]]:
        attribute_forms, extreme_forms = [], []
        for index, entity in enumerate(self.entities):
            for subset, weight in ATTRIBUTE_SUBSETS.items():
                node = logic.filter_(**{key: getattr(entity, key) for key in subset})
                if self.members(node) == {index}:
                    # Repeat by weight: a plain list keeps the draw within a family uniform.
                    attribute_forms += [logic.the(node)] * int(weight * 2)
        for node in self._filters():
            members = self.members(node)
            if len(members) < 2:
                continue
            for direction in DIRECTIONS:
                if self._clear_extreme(members, direction):
                    extreme_forms.append(logic.the(logic.extreme(node, direction)))
        return {"attributes": (0.7, attribute_forms), "extreme": (0.3, extreme_forms)}

    def _multi(self) -> dict[str, tuple[float, list[LogicalForm]]]:
        plural_forms, side_forms, exclusion_forms = [], [], []
        for node in self._filters():
            members = self.members(node)
            generic = not any(node.get(key) for key in logic.ATTRIBUTES)
            if len(members) >= 2:
                plural_forms += [logic.all_(node)] * (1 if generic else 3)
                plural_forms += [logic.count(len(members), node)] * (1 if generic else 2)
                for which in DIRECTIONS:
                    part = self.members(logic.side(node, which))
                    if 2 <= len(part) < len(members) and self._clear_of_midline(members, which):
                        side_forms.append(logic.all_(logic.side(node, which)))
            if len(members) >= 3:
                for minus in self._refinements(node, members):
                    exclusion_forms.append(logic.all_(logic.except_(node, minus)))
        return {"plural": (0.35, plural_forms), "side": (0.15, side_forms),
                "and": (0.25, self._conjunctions()), "except": (0.25, exclusion_forms)}

    def _refinements(self, node: LogicalForm, members: frozenset[int]) -> list[LogicalForm]:
        """Filters adding one attribute to `node` that pick out some, not all but one, of its members."""
        result = []
        for key in logic.ATTRIBUTES:
            if node.get(key):
                continue
            for value in sorted({getattr(self.entities[index], key) for index in members}):
                minus = dict(node, **{key: value})
                if len(members - self.members(minus)) >= 2:
                    result.append(minus)
        return result

    def _unique_description(self, index: int) -> LogicalForm | None:
        entity = self.entities[index]
        for subset in (("shape",), ("colour", "shape"), ("size", "shape"), ("size", "colour", "shape")):
            node = logic.filter_(**{key: getattr(entity, key) for key in subset})
            if self.members(node) == {index}:
                return node
        return None

    def _conjunctions(self) -> list[LogicalForm]:
        described = [(index, node) for index in range(len(self.entities))
                     if (node := self._unique_description(index)) is not None]
        forms = [logic.and_(logic.the(first), logic.the(second))
                 for (_, first), (_, second) in itertools.combinations(described, 2)]
        forms += [logic.and_(*(logic.the(node) for _, node in triple))
                  for triple in itertools.combinations(described, 3)][: max(1, len(forms) // 4)]
        for index, node in described:
            for other in self._filters(include_generic=False):
                members = self.members(other)
                if len(members) >= 2 and index not in members and other.get("shape"):
                    forms.append(logic.and_(logic.the(node), logic.count(len(members), other)))
        return forms

    def _no_target(self) -> dict[str, tuple[float, list[LogicalForm]]]:
        present = {key: sorted({getattr(entity, key) for entity in self.entities}) for key in logic.ATTRIBUTES}
        absent_forms = []
        for subset in (("colour", "shape"), ("size", "shape"), ("size", "colour", "shape")):
            for values in itertools.product(*(present[key] for key in subset)):
                node = logic.filter_(**dict(zip(subset, values)))
                if not self.members(node):
                    absent_forms += [logic.the(node)] * 4 + [logic.all_(node)]
                    absent_forms.append(logic.the(logic.extreme(node, DIRECTIONS[int(self.rng.integers(4))])))
        missing_colour = [logic.the(logic.filter_(shape=shape, colour=colour))
                          for colour in sorted(set(COLOURS) - set(present["colour"])) for shape in present["shape"]]
        count_forms = []
        for node in self._filters(include_generic=False):
            if not (node.get("shape") or node.get("colour")):
                continue
            found = len(self.members(node))
            for claimed in (2, 3, 4):
                if claimed != found and abs(claimed - found) == 1:
                    count_forms.append(logic.count(claimed, node))
        return {"absent": (0.55, absent_forms), "missing_colour": (0.1, missing_colour),
                "count": (0.35, count_forms)}
