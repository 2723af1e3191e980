"""Exact polygon geometry for visible regions: convex clipping, differences, and merging pieces.

Polygons are float arrays of shape (k, 2) in pixel coordinates (pixel (i, j) covers
[i, i+1] x [j, j+1], the convention of pycocotools), oriented with positive shoelace area.
A visible region is computed as a union of disjoint convex pieces (the object's convex parts
minus each occluder's convex parts, by half-plane splits), then merged back into as few
hole-free polygons as the region allows: COCO polygons cannot hold holes, so a region with a
hole is cut by a vertical line through the hole and each side merged on its own.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np

SIDE_EPS = 1e-9  # a vertex this close to a cutting line lies on it
VERTEX_EPS = 1e-7  # two vertices this close are the same vertex
NEGLIGIBLE_AREA = 1e-3  # loops smaller than this (in square pixels) are numerical dust


def signed_area(polygon: np.ndarray) -> float:
    """Shoelace area; positive for the orientation every polygon here uses."""
    x, y = polygon[:, 0], polygon[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def oriented(polygon: np.ndarray) -> np.ndarray:
    """The polygon with positive orientation."""
    return polygon if signed_area(polygon) >= 0 else polygon[::-1].copy()


def split_by_line(
    polygon: np.ndarray, origin: np.ndarray, direction: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Split a convex polygon by a directed line: (part on its left, part on its right), None if empty.

    Each crossing point is computed once and given to both parts, so they share their cut edge
    exactly.
    """
    unit = direction / math.hypot(direction[0], direction[1])
    relative = polygon - origin
    side = unit[0] * relative[:, 1] - unit[1] * relative[:, 0]
    if side.min() >= -SIDE_EPS:
        return polygon, None
    if side.max() <= SIDE_EPS:
        return None, polygon
    left: list[np.ndarray] = []
    right: list[np.ndarray] = []
    count = len(polygon)
    for index in range(count):
        point, point_side = polygon[index], side[index]
        following = (index + 1) % count
        next_point, next_side = polygon[following], side[following]
        if point_side >= -SIDE_EPS:
            left.append(point)
        if point_side <= SIDE_EPS:
            right.append(point)
        if (point_side > SIDE_EPS and next_side < -SIDE_EPS) or (point_side < -SIDE_EPS and next_side > SIDE_EPS):
            t = point_side / (point_side - next_side)
            crossing = point + t * (next_point - point)
            left.append(crossing)
            right.append(crossing)
    return _nondegenerate(left), _nondegenerate(right)


def _nondegenerate(points: list[np.ndarray]) -> np.ndarray | None:
    if len(points) < 3:
        return None
    polygon = np.array(points)
    return polygon if signed_area(polygon) > 1e-12 else None


def _separated(polygon: np.ndarray, hull: np.ndarray) -> bool:
    """Whether an edge of either convex polygon has the whole other one on its outer side."""
    for first, second in ((hull, polygon), (polygon, hull)):
        starts = first
        directions = np.roll(first, -1, axis=0) - first
        lengths = np.hypot(directions[:, 0], directions[:, 1])
        relative = second[None, :, :] - starts[:, None, :]
        side = (directions[:, None, 0] * relative[:, :, 1] - directions[:, None, 1] * relative[:, :, 0]) / lengths[:, None]
        if np.any(side.max(axis=1) <= SIDE_EPS):
            return True
    return False


def bounds(polygon: np.ndarray) -> tuple[float, float, float, float]:
    """(min x, min y, max x, max y)."""
    low, high = polygon.min(axis=0), polygon.max(axis=0)
    return float(low[0]), float(low[1]), float(high[0]), float(high[1])


def boxes_overlap(first: tuple[float, float, float, float], second: tuple[float, float, float, float]) -> bool:
    return first[0] < second[2] and second[0] < first[2] and first[1] < second[3] and second[1] < first[3]


def subtract_convex(piece: np.ndarray, hull: np.ndarray) -> list[np.ndarray]:
    """Convex `piece` minus convex `hull`, as disjoint convex pieces.

    Walking the hull's edges, the part of what remains that lies outside the current edge is a
    finished piece; the part inside goes on to the next edge, and what is left at the end is
    the intersection, which is dropped.
    """
    if not boxes_overlap(bounds(piece), bounds(hull)) or _separated(piece, hull):
        return [piece]
    pieces: list[np.ndarray] = []
    remaining: np.ndarray | None = piece
    for index in range(len(hull)):
        start = hull[index]
        direction = hull[(index + 1) % len(hull)] - start
        inside, outside = split_by_line(remaining, start, direction)
        if outside is not None:
            pieces.append(outside)
        remaining = inside
        if remaining is None:
            break
    return pieces


def subtract_all(pieces: list[np.ndarray], hulls: list[np.ndarray]) -> list[np.ndarray]:
    """Disjoint convex pieces minus each convex hull in turn."""
    for hull in hulls:
        hull_box = bounds(hull)
        result: list[np.ndarray] = []
        for piece in pieces:
            if boxes_overlap(bounds(piece), hull_box):
                result.extend(subtract_convex(piece, hull))
            else:
                result.append(piece)
        pieces = result
    return pieces


def total_area(pieces: list[np.ndarray]) -> float:
    return float(sum(signed_area(piece) for piece in pieces))


class _VertexIndex:
    """Canonical vertices: points within VERTEX_EPS of one another get the same id."""

    def __init__(self) -> None:
        self.points: list[tuple[float, float]] = []
        self._cells: dict[tuple[int, int], list[int]] = defaultdict(list)

    def id_of(self, x: float, y: float) -> int:
        cell_x, cell_y = math.floor(x / VERTEX_EPS), math.floor(y / VERTEX_EPS)
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for vertex in self._cells.get((cell_x + dx, cell_y + dy), ()):
                    px, py = self.points[vertex]
                    if abs(px - x) <= VERTEX_EPS and abs(py - y) <= VERTEX_EPS:
                        return vertex
        self.points.append((x, y))
        self._cells[(cell_x, cell_y)].append(len(self.points) - 1)
        return len(self.points) - 1


def _loops_with_junctions(pieces: list[np.ndarray], index: _VertexIndex) -> list[list[int]]:
    """Each piece as a loop of vertex ids, with every other piece's vertex lying on an edge inserted.

    Pieces cut by different lines meet in T-junctions; after the insertion, an edge shared by
    two pieces appears once in each direction.
    """
    loops = []
    for piece in pieces:
        loop = [index.id_of(float(x), float(y)) for x, y in piece]
        loops.append([vertex for position, vertex in enumerate(loop) if vertex != loop[position - 1]])
    points = np.array(index.points)
    result = []
    for loop in loops:
        expanded: list[int] = []
        for position, start in enumerate(loop):
            end = loop[(position + 1) % len(loop)]
            expanded.append(start)
            a, b = points[start], points[end]
            direction = b - a
            length_squared = float(direction @ direction)
            relative = points - a
            t = (relative @ direction) / length_squared
            distance = np.abs(direction[0] * relative[:, 1] - direction[1] * relative[:, 0]) / math.sqrt(length_squared)
            on_edge = np.nonzero((t > 1e-9) & (t < 1 - 1e-9) & (distance < VERTEX_EPS))[0]
            for vertex in on_edge[np.argsort(t[on_edge])]:
                if vertex != start and vertex != end:
                    expanded.append(int(vertex))
        result.append(expanded)
    return result


def _trace(edges: list[tuple[int, int]], points: np.ndarray) -> list[list[int]] | None:
    """Chain boundary edges into closed loops, keeping the region on the left at shared vertices.

    None when the edges do not close (a numerical failure the caller answers with the pieces).
    """
    outgoing: dict[int, list[int]] = defaultdict(list)
    for start, end in edges:
        outgoing[start].append(end)
    # Start at plain vertices first, so that a loop never begins at a vertex two loops share.
    order = sorted(edges, key=lambda edge: len(outgoing[edge[0]]) > 1)
    loops = []
    for first_start, first_end in order:
        if first_end not in outgoing[first_start]:
            continue
        outgoing[first_start].remove(first_end)
        loop = [first_start]
        previous, current = first_start, first_end
        while current != first_start:
            loop.append(current)
            candidates = outgoing[current]
            if not candidates:
                return None
            chosen = min(candidates, key=lambda target: _clockwise_turn(points, previous, current, target))
            candidates.remove(chosen)
            previous, current = current, chosen
        loops.append(loop)
    return loops


def _clockwise_turn(points: np.ndarray, previous: int, current: int, target: int) -> float:
    """Angle swept clockwise from the edge back to `previous` to the edge out to `target`, in (0, 2 pi]."""
    back = points[previous] - points[current]
    step = points[target] - points[current]
    turn = (math.atan2(back[1], back[0]) - math.atan2(step[1], step[0])) % (2 * math.pi)
    return turn if turn > 0 else 2 * math.pi


def _simplified(polygon: np.ndarray) -> np.ndarray:
    """Drop repeated and collinear vertices (from cuts and junctions); the region is unchanged."""
    changed = True
    while changed and len(polygon) >= 3:
        changed = False
        previous = np.roll(polygon, 1, axis=0)
        following = np.roll(polygon, -1, axis=0)
        chord = following - previous
        length = np.hypot(chord[:, 0], chord[:, 1])
        offset = polygon - previous
        deviation = np.abs(chord[:, 0] * offset[:, 1] - chord[:, 1] * offset[:, 0]) / np.maximum(length, 1e-300)
        redundant = (deviation < VERTEX_EPS) | (np.hypot(offset[:, 0], offset[:, 1]) < VERTEX_EPS)
        if redundant.any():
            first = int(np.argmax(redundant))
            polygon = np.delete(polygon, first, axis=0)
            changed = True
    return polygon


def merge_pieces(pieces: list[np.ndarray]) -> list[np.ndarray]:
    """The union of disjoint convex pieces as hole-free simple polygons (positively oriented)."""
    if not pieces:
        return []
    index = _VertexIndex()
    loops = _loops_with_junctions(pieces, index)
    points = np.array(index.points)
    directed = Counter()
    for loop in loops:
        for position, start in enumerate(loop):
            directed[(start, loop[(position + 1) % len(loop)])] += 1
    boundary = []
    for (start, end), count in directed.items():
        boundary.extend([(start, end)] * max(0, count - directed.get((end, start), 0)))
    traced = _trace(boundary, points)
    if traced is None:
        return list(pieces)
    outer: list[np.ndarray] = []
    for loop in traced:
        polygon = _simplified(points[loop])
        if len(polygon) < 3:
            continue
        area = signed_area(polygon)
        if area < -NEGLIGIBLE_AREA:
            return _merge_around_hole(pieces, polygon)
        if area > NEGLIGIBLE_AREA:
            outer.append(polygon)
    return outer


def _merge_around_hole(pieces: list[np.ndarray], hole: np.ndarray) -> list[np.ndarray]:
    """Cut every piece by a vertical line through the hole and merge each side on its own."""
    low_x, _, high_x, _ = bounds(hole)
    origin = np.array([(low_x + high_x) / 2, 0.0])
    upward = np.array([0.0, 1.0])
    left_side: list[np.ndarray] = []
    right_side: list[np.ndarray] = []
    for piece in pieces:
        first, second = split_by_line(piece, origin, upward)
        if first is not None:
            left_side.append(first)
        if second is not None:
            right_side.append(second)
    return merge_pieces(left_side) + merge_pieces(right_side)
