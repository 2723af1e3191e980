"""Logical forms of gRefShapes expressions and the evaluator that computes their referents.

A logical form is plain JSON. Set expressions denote a set of objects:
  {"op": "filter", "shape": s, "colour": c, "size": z}  objects with the attributes given (each optional)
  {"op": "extreme", "of": SET, "direction": "left"|"right"|"top"|"bottom"}  the one farthest that way
  {"op": "side", "of": SET, "side": "left"|"right"|"top"|"bottom"}    those in that half of the image
  {"op": "except", "of": SET, "minus": SET}                         set difference
Referring forms (the top level) say how the set is referred to:
  {"op": "the", "of": SET}              singular definite: its one member; none if the set is
                                        empty; an error if it has several (never generated)
  {"op": "all", "of": SET}              every member (none if empty)
  {"op": "count", "n": k, "of": SET}    the members if there are exactly k, otherwise none
  {"op": "and", "args": [REF, ...]}     the union; none if any part refers to nothing
An object's position is the centre of its shape; y grows downwards, so "top" is the smallest y.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence

from grefbench.errors import DatasetError

DIRECTIONS = ("left", "right", "top", "bottom")
ATTRIBUTES = ("size", "colour", "shape")

LogicalForm = dict[str, Any]


class LogicalFormError(DatasetError):
    """A logical form that is malformed or whose singular description is not unique."""


class Entity(Protocol):
    """What the evaluator needs to know of an object."""

    shape: str
    colour: str
    size: str
    x: float
    y: float


def filter_(shape: str | None = None, colour: str | None = None, size: str | None = None) -> LogicalForm:
    """A filter naming only the attributes given (an absent key matches anything)."""
    given = {"shape": shape, "colour": colour, "size": size}
    return {"op": "filter", **{key: value for key, value in given.items() if value is not None}}


def extreme(of: LogicalForm, direction: str) -> LogicalForm:
    return {"op": "extreme", "of": of, "direction": direction}


def side(of: LogicalForm, which: str) -> LogicalForm:
    return {"op": "side", "of": of, "side": which}


def except_(of: LogicalForm, minus: LogicalForm) -> LogicalForm:
    return {"op": "except", "of": of, "minus": minus}


def the(of: LogicalForm) -> LogicalForm:
    return {"op": "the", "of": of}


def all_(of: LogicalForm) -> LogicalForm:
    return {"op": "all", "of": of}


def count(n: int, of: LogicalForm) -> LogicalForm:
    return {"op": "count", "n": n, "of": of}


def and_(*parts: LogicalForm) -> LogicalForm:
    return {"op": "and", "args": list(parts)}


def coordinate(entity: Entity, direction: str) -> float:
    """How far the object lies in `direction` (larger is farther)."""
    return {"left": -entity.x, "right": entity.x, "top": -entity.y, "bottom": entity.y}[direction]


def evaluate_set(node: LogicalForm, entities: Sequence[Entity], image_size: float) -> frozenset[int]:
    """The indices of the objects a set expression denotes."""
    op = _op(node)
    if op == "filter":
        wanted = {key: node.get(key) for key in ATTRIBUTES if node.get(key) is not None}
        return frozenset(index for index, entity in enumerate(entities)
                         if all(getattr(entity, key) == value for key, value in wanted.items()))
    if op == "extreme":
        members = evaluate_set(_child(node, "of"), entities, image_size)
        direction = _direction(node, "direction")
        if not members:
            return frozenset()
        return frozenset({max(members, key=lambda index: coordinate(entities[index], direction))})
    if op == "side":
        members = evaluate_set(_child(node, "of"), entities, image_size)
        which = _direction(node, "side")
        half = image_size / 2
        line = -half if which in ("left", "top") else half
        return frozenset(index for index in members if coordinate(entities[index], which) > line)
    if op == "except":
        kept = evaluate_set(_child(node, "of"), entities, image_size)
        return kept - evaluate_set(_child(node, "minus"), entities, image_size)
    raise LogicalFormError(f"logical form: {op!r} is not a set expression (filter, extreme, side, except)")


def evaluate(form: LogicalForm, entities: Sequence[Entity], image_size: float) -> frozenset[int]:
    """The indices of the objects a referring form refers to (empty for no target)."""
    op = _op(form)
    if op == "the":
        members = evaluate_set(_child(form, "of"), entities, image_size)
        if len(members) > 1:
            raise LogicalFormError(f"logical form: singular description {form['of']} fits {len(members)} objects")
        return members
    if op == "all":
        return evaluate_set(_child(form, "of"), entities, image_size)
    if op == "count":
        members = evaluate_set(_child(form, "of"), entities, image_size)
        n = form.get("n")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise LogicalFormError(f"logical form: count needs a positive integer 'n', got {n!r}")
        return members if len(members) == n else frozenset()
    if op == "and":
        parts = [evaluate(part, entities, image_size) for part in _child(form, "args")]
        if not parts or any(not part for part in parts):
            return frozenset()
        return frozenset().union(*parts)
    raise LogicalFormError(f"logical form: {op!r} is not a referring form (the, all, count, and)")


def _op(node: Any) -> str:
    if not isinstance(node, dict) or not isinstance(node.get("op"), str):
        raise LogicalFormError(f"logical form: expected an object with an 'op', got {node!r}")
    return node["op"]


def _child(node: LogicalForm, key: str) -> Any:
    if key not in node:
        raise LogicalFormError(f"logical form: {node['op']!r} needs {key!r}, got {node!r}")
    return node[key]


def _direction(node: LogicalForm, key: str) -> str:
    value = node.get(key)
    if value not in DIRECTIONS:
        raise LogicalFormError(f"logical form: {key} must be one of {', '.join(DIRECTIONS)}, got {value!r}")
    return value


def mentioned_pairs(node: Any) -> set[tuple[str, str]]:
    """Every (colour, shape) pair some filter of the form names together."""
    pairs: set[tuple[str, str]] = set()
    if isinstance(node, dict):
        if node.get("op") == "filter" and node.get("colour") and node.get("shape"):
            pairs.add((node["colour"], node["shape"]))
        for value in node.values():
            pairs |= mentioned_pairs(value)
    elif isinstance(node, list):
        for value in node:
            pairs |= mentioned_pairs(value)
    return pairs
