"""Frame interpolation: motion-compensated (dense optical flow both ways) or a plain cross-fade.

For each pair of neighbouring frames we estimate the flow 0→1 and 1→0 with OpenCV's DIS. A
pixel ``x`` of the in-between frame at time ``t`` came from the point ``p`` of frame 0 with
``p + t·F01(p) = x``; we solve that by fixed-point iteration (each step one bilinear lookup
of the flow) and likewise for frame 1. Each warped neighbour is trusted where

* the iteration converged (``p + t·F01(p)`` lands back on ``x``): where it does not, nothing
  in that frame moves to ``x``, as in areas uncovered between the frames; and
* the flow is consistent forwards and backwards at ``p``: where ``F01(p) + F10(p + F01(p))``
  is far from zero, ``p`` is hidden in the other frame (it is being covered up),

and the two warps are blended with those weights times the usual (1-t, t). A pair whose
motion the flow cannot explain is a scene cut: its in-betweens repeat the nearer frame
instead of morphing one shot into the next.

Those checks are only as good as the flow at motion edges, and DIS smears it there by several
pixels: worst exactly where occlusions are, since a point covered up in the next frame has no
match and DIS fills in its neighbours' motion. So before the checks each flow is sharpened
near motion edges (``_sharpen``): every pixel there may swap its vector for a neighbour's a
few pixels away, or for the reversed flow to the frame on the *other* side (where a point
about to be covered is still visible), whichever matches the image best in either the next
frame or the previous one; a 5x5 median then drops lone swaps, which showed as speckle on
soft, low-texture content (blurry generated blobs). That is what lets the occlusion weights pay
off (see benchmarks/bench_interpolate.py); elsewhere the flow is left as DIS made it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# For comparison only: "warp" is flow without any occlusion handling (DIS's flow as is, plain
# (1-t, t) blend), "sharp-warp" adds the flow sharpening but not the occlusion weights.
METHODS = ("flow", "blend", "warp", "sharp-warp")
MULTIPLIERS = (2, 3, 4)
FIXED_POINT_STEPS = 2  # more steps changed PSNR by <0.1 dB on the benchmark clip
CUT_ERROR = 12.0  # mean grey-level error left after motion compensation that marks a cut (motion leaves ~3-5)
CUT_RATIO = 0.55  # ...when the flow removes less than this share of the plain frame difference
_CUT_SIZE = 128  # cut detection runs on frames shrunk to about this width
_TILE = 16  # flow sharpening works on tiles of this size that straddle a motion edge
_EDGE_RANGE = 1.5  # px: flow spread near a tile that marks a motion edge there
_REACH = 6  # px: how far away the neighbours' vectors are taken from (beyond most of DIS's smear)
_SWITCH_COST = 9.0  # summed 3x3 grey error a candidate must beat the pixel's own vector by


def output_count(frames: int, multiplier: int) -> int:
    """Frames out for ``frames`` in: the clip keeps its duration at ``multiplier`` times the rate."""
    return frames * multiplier


def interpolate_frames(
    array: Any,
    multiplier: int,
    method: str = "flow",
    *,
    check_cancelled: Callable[[], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """Insert ``multiplier - 1`` frames between each pair of uint8 RGB frames ``[F, H, W, 3]``.

    Returns ``[F * multiplier, H, W, 3]``: each input frame followed by its in-betweens, the
    last input frame held for the final ``multiplier - 1`` slots so the duration (at
    ``multiplier`` times the frame rate) equals the input's and audio stays in sync.
    """
    import cv2
    import numpy as np

    if multiplier not in MULTIPLIERS:
        raise ValueError(f"multiplier must be one of {', '.join(map(str, MULTIPLIERS))}, got {multiplier}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    count, height, width = array.shape[:3]
    if min(height, width) < MIN_FLOW_SIZE:
        method = "blend"  # DIS flow needs a few patches of image; below that blending is all we can do
    out = np.empty((count * multiplier, height, width, 3), np.uint8)
    engine = _FlowInterpolator(width, height, sharpen=method != "warp") if method != "blend" else None
    greys: dict[int, Any] = {}
    cuts: dict[int, bool] = {}

    def grey(j: int) -> Any:
        if j not in greys:
            greys[j] = cv2.cvtColor(np.ascontiguousarray(array[j]), cv2.COLOR_RGB2GRAY)
        return greys[j]

    def cut_after(j: int) -> bool:
        if j not in cuts:
            cuts[j] = is_scene_cut(grey(j), grey(j + 1))
        return cuts[j]

    # Sharpening pair i uses the flow from frame i back to i-1 (the previous pair's backward
    # flow) and from frame i+1 on to i+2 (computed here one pair early and reused as the next
    # pair's forward flow), so it costs no extra flow computation.
    behind = ahead = None
    pairs = count - 1
    times = [k / multiplier for k in range(1, multiplier)]
    for i in range(pairs):
        if check_cancelled is not None:
            check_cancelled()
        for j in [j for j in greys if j < i - 1]:
            del greys[j]
        a, b = np.ascontiguousarray(array[i]), np.ascontiguousarray(array[i + 1])
        base = i * multiplier
        out[base] = a
        if cut_after(i):
            for k, t in enumerate(times, start=1):
                out[base + k] = a if t < 0.5 else b
            behind = ahead = None
        elif engine is None:
            for k, t in enumerate(times, start=1):
                out[base + k] = blend(a, b, t)
        else:
            g0, g1 = grey(i), grey(i + 1)
            f01 = ahead if ahead is not None else engine.flow(g0, g1)
            f10 = engine.flow(g1, g0)
            before = (grey(i - 1), behind) if behind is not None else None
            after = ahead = None
            if engine.sharpen and i + 2 < count and not cut_after(i + 1):
                ahead = engine.flow(g1, grey(i + 2))
                after = (grey(i + 2), ahead)
            engine.prepare(a, b, f01, f10, g0, g1, before=before, after=after)
            for k, t in enumerate(times, start=1):
                out[base + k] = engine.at(t, occlusion=method == "flow")
            behind = f10
        if progress is not None:
            progress(i + 1, max(pairs, 1))
    out[(count - 1) * multiplier :] = array[count - 1]
    if progress is not None and pairs == 0:
        progress(1, 1)
    return out


def blend(a: Any, b: Any, t: float) -> Any:
    """The cross-fade baseline: ``(1 - t)·a + t·b``."""
    import cv2

    return cv2.addWeighted(a, 1.0 - t, b, t, 0.0)


MIN_FLOW_SIZE = 16  # pixels: smaller frames are blended, never flowed


def is_scene_cut(grey0: Any, grey1: Any) -> bool:
    """Whether two grey frames belong to different shots: motion cannot explain their difference.

    Runs a coarse flow on shrunk frames, so its cost is the same whatever the frame size.
    """
    import cv2
    import numpy as np

    scale = min(1.0, _CUT_SIZE / max(grey0.shape[1], 1))
    size = (max(8, round(grey0.shape[1] * scale)), max(8, round(grey0.shape[0] * scale)))
    small0 = cv2.resize(grey0, size, interpolation=cv2.INTER_AREA)
    small1 = cv2.resize(grey1, size, interpolation=cv2.INTER_AREA)
    plain = float(np.mean(cv2.absdiff(small0, small1)))
    if plain < CUT_ERROR:
        return False
    if min(grey0.shape[:2]) < MIN_FLOW_SIZE:
        return True  # too small to estimate motion: a large change is all there is to go on
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flow = dis.calc(small0, small1, None)
    gx, gy = np.meshgrid(np.arange(size[0], dtype=np.float32), np.arange(size[1], dtype=np.float32))
    warped = cv2.remap(small1, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    # Ignore a border band where content legitimately enters or leaves the frame.
    m = max(1, size[0] // 16)
    residual = float(np.mean(cv2.absdiff(small0, warped)[m:-m, m:-m]))
    return residual > CUT_ERROR and residual > CUT_RATIO * plain


class _FlowInterpolator:
    """Holds one pair's flows and consistency maps, then renders any in-between time.

    Everything runs on whole images through OpenCV calls (remap, scaleAdd, exp), which are
    several times faster here than the same arithmetic in numpy.
    """

    def __init__(self, width: int, height: int, *, sharpen: bool = True) -> None:
        import cv2
        import numpy as np

        self.sharpen = sharpen and min(width, height) >= _TILE
        # Finest scale 1 (half resolution) instead of the preset's 2, with sparser patches, fewer
        # descent steps and no variational refinement: cheaper than the preset, and half the
        # smear at motion edges (on the benchmark clip +1.4 dB for plain warping, and after
        # sharpening on par with denser settings that cost 1.5x).
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        self.dis.setFinestScale(1)
        self.dis.setPatchSize(8)
        self.dis.setPatchStride(5)
        self.dis.setGradientDescentIterations(12)
        self.dis.setVariationalRefinementIterations(0)
        gx, gy = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
        self.grid = np.dstack([gx, gy])  # 2-channel map: what cv2.remap takes as one argument

    def flow(self, source: Any, target: Any) -> Any:
        """Dense flow from grey ``source`` to grey ``target``: ``source(x) ≈ target(x + F(x))``."""
        return self.dis.calc(source, target, None)

    def prepare(
        self,
        a: Any,
        b: Any,
        f01: Any,
        f10: Any,
        g0: Any,
        g1: Any,
        *,
        before: tuple[Any, Any] | None = None,
        after: tuple[Any, Any] | None = None,
    ) -> None:
        """Take one pair and its flows. ``before``: the grey frame before ``a`` and the flow from
        ``a`` to it; ``after``: the grey frame after ``b`` and the flow from ``b`` to it."""
        import numpy as np

        if self.sharpen:
            f01 = _sharpen(f01, g0, g1, before)
            f10 = _sharpen(f10, g1, g0, after)
        self.a, self.b, self.f01, self.f10 = a, b, f01, f10
        self.hidden01 = self._inconsistency(self.f01, self.f10)
        self.hidden10 = self._inconsistency(self.f10, self.f01)
        speed = float(np.sqrt(np.mean(self._norm2(self.f01[::4, ::4]))))
        tolerance = 0.75 + 0.05 * speed  # larger motion, looser checks (flow error grows with it)
        self.scale = -0.5 / (tolerance * tolerance)

    def _norm2(self, vectors: Any) -> Any:
        import cv2

        squares = cv2.multiply(vectors, vectors).reshape(vectors.shape[0], -1)
        return squares[:, 0::2] + squares[:, 1::2]  # x² + y²: 4x faster than cv2.transform here

    def _inconsistency(self, forward: Any, backward: Any) -> Any:
        """Squared length of ``F(x) + B(x + F(x))``: near zero where x is visible in both frames."""
        import cv2

        maps = cv2.convertMaps(cv2.add(self.grid, forward), None, cv2.CV_16SC2)  # see _trace
        back = cv2.remap(backward, *maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return self._norm2(cv2.add(forward, back))

    def _trace(self, flow: Any, hidden: Any, t: float) -> tuple[Any, Any, Any]:
        """Solve ``p + t·F(p) = x`` for every ``x``; return the map of p, how well the equation
        holds there (1 = exactly) and how hidden ``p`` is in the other frame (1 = fully)."""
        import cv2

        def sample(image: Any, maps: tuple[Any, Any]) -> Any:
            return cv2.remap(image, *maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

        # Maps converted to OpenCV's fixed-point form once and reused: 1/32 px steps, and
        # each remap about 1.5x faster than with float maps.
        where = cv2.scaleAdd(flow, -t, self.grid)
        for _ in range(FIXED_POINT_STEPS):
            where = cv2.scaleAdd(sample(flow, cv2.convertMaps(where, None, cv2.CV_16SC2)), -t, self.grid)
        maps = cv2.convertMaps(where, None, cv2.CV_16SC2)
        miss = cv2.subtract(cv2.scaleAdd(sample(flow, maps), t, where), self.grid)
        landed = cv2.exp(self._norm2(miss) * self.scale)
        seen = cv2.exp(sample(hidden, maps) * self.scale)
        return maps, landed, 1.0 - seen

    def at(self, t: float, *, occlusion: bool = True) -> Any:
        import cv2
        import numpy as np

        map0, landed0, hidden0 = self._trace(self.f01, self.hidden01, t)
        map1, landed1, hidden1 = self._trace(self.f10, self.hidden10, 1.0 - t)
        warp0 = cv2.remap(self.a, *map0, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        warp1 = cv2.remap(self.b, *map1, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if not occlusion:
            return cv2.addWeighted(warp0, 1.0 - t, warp1, t, 0.0)
        # A trace that did not land means nothing in that frame moves here (an area being
        # uncovered): take the other frame. When both land but one source point is hidden in
        # the other frame while the other source is visible in both, two things meet here and
        # the one visible in both frames is in front (the hidden one is being covered up).
        eps = np.float32(1e-3)
        clear0 = landed0 * (1.0 - hidden0)
        clear1 = landed1 * (1.0 - hidden1)
        w0 = cv2.blur(np.float32(1.0 - t) * (landed0 * (1.0 - hidden0 * clear1) + eps), (3, 3))
        w1 = cv2.blur(np.float32(t) * (landed1 * (1.0 - hidden1 * clear0) + eps), (3, 3))
        return cv2.blendLinear(warp0, warp1, w0, w1)  # (w0·warp0 + w1·warp1) / (w0 + w1)


def _edge_tiles(flow: Any) -> tuple[Any, Any]:
    """Top-left corners (y, x) of the ``_TILE``-sized tiles where the flow changes by more than
    ``_EDGE_RANGE`` within about a tile: motion edges, the only places DIS smears."""
    import cv2
    import numpy as np

    height, width = flow.shape[:2]
    rows, cols = -(-height // _TILE), -(-width // _TILE)
    cells = cv2.resize(flow, (2 * cols, 2 * rows), interpolation=cv2.INTER_AREA)
    kernel = np.ones((3, 3), np.uint8)
    spread = cv2.absdiff(cv2.dilate(cells, kernel), cv2.erode(cells, kernel)).max(axis=2)
    ty, tx = np.nonzero(spread.reshape(rows, 2, cols, 2).max(axis=(1, 3)) > _EDGE_RANGE)
    # Tiles of a partial last row or column are moved inside the frame (they overlap the previous).
    return np.minimum(ty * _TILE, height - _TILE), np.minimum(tx * _TILE, width - _TILE)


def _sharpen(flow: Any, grey: Any, target: Any, other: tuple[Any, Any] | None) -> Any:
    """``flow`` (from ``grey`` to ``target``) with each pixel near a motion edge given the
    candidate vector that best matches the images: its own, its four neighbours' at
    ``_REACH`` pixels, or the reverse of ``other``'s flow (to the frame on the far side).

    A candidate's error is the 3x3 sum of the smaller of its grey errors in ``target`` and
    (going back along it) in ``other``'s frame, so a point about to be covered up, which has
    no match in ``target``, is judged where it is still visible.
    """
    import cv2
    import numpy as np

    oy, ox = _edge_tiles(flow)
    n = len(oy)
    if n == 0:
        return flow
    size = _TILE + 2  # one pixel of margin for the 3x3 sums
    offsets = np.arange(-1, _TILE + 1, dtype=np.int16)
    # All tiles side by side in one (size, n·size) image, so each step is one OpenCV call.
    at = np.empty((size, n, size, 2), np.int16)
    at[..., 0] = (ox.astype(np.int16)[:, None] + offsets)[None, :, :]
    at[..., 1] = (oy.astype(np.int16)[:, None] + offsets).T[:, :, None]
    at = at.reshape(size, n * size, 2)
    where = at.astype(np.float32)

    def pick(image: Any, coords: Any) -> Any:
        return cv2.remap(image, coords, None, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)

    def error(image: Any, coords: Any) -> Any:
        return cv2.absdiff(here, cv2.remap(image, coords, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))

    here = pick(grey, at)
    own = pick(flow, at)
    candidates = [-pick(other[1], at)] if other is not None else []
    for dx, dy in ((_REACH, 0), (-_REACH, 0), (0, _REACH), (0, -_REACH)):
        candidates.append(pick(flow, at + np.array([dx, dy], np.int16)))
    best, chosen = None, own.copy()
    for vector in [own, *candidates]:
        cost = error(target, cv2.add(where, vector))
        if other is not None:
            cost = cv2.min(cost, error(other[0], cv2.subtract(where, vector)))
        cost = cv2.boxFilter(cost, cv2.CV_16U, (3, 3), normalize=False, borderType=cv2.BORDER_REPLICATE)
        if best is None:
            best = cost
            continue
        cost = cv2.add(cost, _SWITCH_COST)  # keep the pixel's own vector unless clearly beaten
        better = cv2.compare(cost, best, cv2.CMP_LT)
        best = cv2.min(best, cost)
        cv2.copyTo(vector, better, chosen)
    core = chosen.reshape(size, n, size, 2)[1:-1, :, 1:-1].transpose(1, 0, 2, 3)  # (n, tile, tile, 2)
    span = np.arange(_TILE)
    sharp = flow.copy()
    sharp[oy[:, None, None] + span[None, :, None], ox[:, None, None] + span[None, None, :]] = core
    # On soft, low-texture content the cheapest candidate flips from pixel to pixel: a 5x5
    # median keeps the edges the swaps found but removes lone swaps (speckle in the warp).
    for channel in range(2):
        sharp[..., channel] = cv2.medianBlur(np.ascontiguousarray(sharp[..., channel]), 5)
    return sharp
