"""Closed-form continuous-time (CfC) models on NumPy arrays: ncps's
``CfC``, ``CfCCell`` and ``WiredCfCCell`` with the same arguments,
parameter names and shapes, each computed by the Go core in one call per
sequence (forward) and one per backward pass.

Parameters are NumPy arrays named as the reference's ``state_dict()``
keys, views into one flat array (``flat_params``) that the Go calls read
without copying.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple, Union

import numpy as np

from . import _cfc
from ._cfc import CfCModel, CfCTape
from .wirings import Wiring

__all__ = ["CfC", "CfCCell", "WiredCfCCell"]

State = Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]


class _Params:
    """Parameters of a model: a flat array and named views into it."""

    _prefix = ""

    def _setup(self, model: CfCModel, seed: Optional[int]) -> None:
        self._model = model
        self.training = False
        self.flat_params = model.init_params(seed)
        self._views = model.views(self.flat_params, self._prefix)

    @property
    def params(self) -> Dict[str, np.ndarray]:
        """Parameters by name: views into flat_params (change them in place)."""
        return self._views

    @property
    def dtype(self) -> np.dtype:
        return self._model.dtype

    def train(self, mode: bool = True) -> "_Params":
        """Training mode: backbone dropout is drawn in forward passes."""
        self.training = bool(mode)
        return self

    def eval(self) -> "_Params":
        """Inference mode (the default): no dropout."""
        return self.train(False)

    def state_dict(self) -> Dict[str, np.ndarray]:
        """The parameters by the reference's names (copies), masks included."""
        return {k: v.copy() for k, v in self._views.items()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Copies every parameter from state (a torch state_dict, arrays,
        or anything array-like by name); every name must be present with
        the right shape, and nothing else.

        Raises:
            ValueError: a missing, unexpected or misshapen entry (nothing is
                changed then).
        """
        new = {}
        for name, view in self._views.items():
            if name not in state:
                raise ValueError(f"load_state_dict: parameter {name} is missing")
            v = state[name]
            if hasattr(v, "detach"):
                v = v.detach().cpu().numpy()
            a = np.asarray(v, dtype=self.dtype)
            if a.shape != view.shape:
                raise ValueError(f"load_state_dict: parameter {name} must have shape {view.shape}, got {a.shape}")
            new[name] = a
        extra = set(state) - set(self._views)
        if extra:
            raise ValueError(f"load_state_dict: unexpected parameters {sorted(extra)}")
        for name, a in new.items():
            self._views[name][...] = a

    def __getstate__(self) -> Dict[str, Any]:
        raise TypeError(f"{type(self).__name__} cannot be pickled; save state_dict() instead")


def _resolve_backbone(units: Any, layers: Any, dropout: Any) -> Tuple[int, int, float]:
    return (128 if units is None else units, 1 if layers is None else layers,
            0.0 if dropout is None else dropout)


class CfC(_Params):
    """A CfC sequence model (ncps.torch.CfC's arguments) on NumPy arrays.

    Args:
        input_size: input features.
        units: hidden units (int) or a wiring (wired CfC: one CfC layer per
            wiring layer with the wiring's sparsity, no backbone).
        proj_size: width of a linear projection of every output, or None.
        return_sequences: outputs of every step, or of the last only.
        batch_first: inputs (batch, steps, features), else (steps, batch,
            features).
        mixed_memory: an LSTM memory cell runs before the CfC at each step;
            the state is then a pair (h, c).
        mode: "default", "pure" or "no_gate".
        activation: backbone activation: "lecun_tanh", "tanh", "relu",
            "gelu" or "silu".
        backbone_units, backbone_layers, backbone_dropout: the backbone
            (defaults 128, 1, 0.0); must be None with a wiring.
        dtype: float32 (as the reference) or float64.
        seed: seed of the initial parameters (None: random).

    Raises:
        ValueError / TypeError: an argument out of range, naming it.

    Example:
        >>> rnn = CfC(20, 50, seed=0)
        >>> y, h = rnn(np.zeros((2, 3, 20), np.float32))
        >>> y.shape, h.shape
        ((2, 3, 50), (2, 50))
    """

    _prefix = ""

    def __init__(self, input_size: int, units: Union[int, Wiring], proj_size: Optional[int] = None,
                 return_sequences: bool = True, batch_first: bool = True, mixed_memory: bool = False,
                 mode: str = "default", activation: str = "lecun_tanh", backbone_units: Optional[int] = None,
                 backbone_layers: Optional[int] = None, backbone_dropout: Optional[float] = None,
                 *, dtype: Any = np.float32, seed: Optional[int] = None) -> None:
        self.input_size = input_size
        self.proj_size = proj_size
        self.return_sequences = bool(return_sequences)
        self.batch_first = bool(batch_first)
        self.use_mixed = bool(mixed_memory)
        if isinstance(units, (int, np.integer)) and not isinstance(units, bool):
            self.wired_mode = False
            self.wiring = None
            bu, bl, bd = _resolve_backbone(backbone_units, backbone_layers, backbone_dropout)
            model = CfCModel(input_size, units=units, mode=mode, activation=activation, backbone_units=bu,
                             backbone_layers=bl, backbone_dropout=bd, mixed_memory=mixed_memory,
                             proj_size=proj_size, dtype=dtype)
        else:
            _cfc.check_wired_backbone(backbone_units, backbone_layers, backbone_dropout)
            self.wired_mode = True
            self.wiring = _cfc.cfc_wiring(units, input_size)
            model = CfCModel(input_size, wiring=self.wiring, mode=mode, mixed_memory=mixed_memory,
                             proj_size=proj_size, dtype=dtype)
        self._setup(model, seed)

    @property
    def state_size(self) -> int:
        return self._model.state_size

    @property
    def output_size(self) -> int:
        """Width of the cell output before the projection (ncps's
        output_size: a wiring's output_dim; see the README for
        single-layer wirings, whose cells output the whole state)."""
        if self.wiring is not None and self.wiring.output_dim is not None:
            return int(self.wiring.output_dim)
        return self._model.cell_output_size

    def _inputs(self, x: Any, hx: Any, timespans: Any):
        xa, unbatched = _cfc.batch_major(x, self.batch_first, self.dtype, self._model.input_size)
        h0, c0 = _cfc.state_pair(hx, self.use_mixed, unbatched)
        ts = _cfc.batch_major_elapsed(timespans, self.batch_first, unbatched)
        return xa, h0, c0, ts, unbatched

    def _outputs(self, y: np.ndarray, h: np.ndarray, c: Optional[np.ndarray], unbatched: bool
                 ) -> Tuple[np.ndarray, State]:
        y = _cfc.restore_layout(y, self.batch_first, unbatched, self.return_sequences)
        if unbatched:
            h = h[0]
            c = None if c is None else c[0]
        return y, ((h, c) if self.use_mixed else h)  # type: ignore[return-value]

    def forward(self, input: Any, hx: Any = None, timespans: Any = None) -> Tuple[np.ndarray, State]:
        """Runs the whole sequence in one Go call.

        Args:
            input: (batch, steps, features) (batch_first), (steps, batch,
                features), or (steps, features) unbatched.
            hx: initial state (batch, state_size), a pair (h0, c0) with mixed
                memory, or None (zeros).
            timespans: elapsed time of each step, per sample and step: None
                (1.0), a scalar, (batch, steps), (batch, steps, 1), (steps,)
                or (batch,); finite and > 0. Works for every batch size.

        Returns:
            (outputs, final state): outputs of every step or of the last
            (return_sequences), and h or (h, c).
        """
        xa, h0, c0, ts, unbatched = self._inputs(input, hx, timespans)
        y, h, c, _ = self._model.forward(self.flat_params, xa, h0, c0, ts, all_steps=self.return_sequences,
                                         training=self.training)
        return self._outputs(y, h, c, unbatched)

    __call__ = forward

    def forward_with_tape(self, input: Any, hx: Any = None, timespans: Any = None, seed: Optional[int] = None
                          ) -> Tuple[np.ndarray, State, CfCTape]:
        """As :meth:`forward`, also returning the tape :meth:`backward` needs.
        Inputs must be batched here (3-D)."""
        xa, h0, c0, ts, unbatched = self._inputs(input, hx, timespans)
        if unbatched:
            raise ValueError("forward_with_tape needs batched (3-D) input")
        y, h, c, tape = self._model.forward(self.flat_params, xa, h0, c0, ts, all_steps=self.return_sequences,
                                            training=self.training, seed=seed, keep=True)
        y2, state = self._outputs(y, h, c, False)
        assert tape is not None
        return y2, state, tape

    def backward(self, tape: CfCTape, grad_outputs: Any = None, grad_state: Any = None) -> Dict[str, np.ndarray]:
        """Backpropagation through time over a taped forward pass (once).

        Args:
            tape: from :meth:`forward_with_tape`.
            grad_outputs: loss gradient of the outputs, shaped as they were.
            grad_state: loss gradient of the final state: h, or (h, c) with
                mixed memory (either may be None).

        Returns:
            gradients by parameter name (trainable ones), and "input",
            "h0", "c0" (mixed memory) and "timespans" (when the pass had
            timespans), in the caller's layout.
        """
        gy = grad_outputs
        if gy is not None and self.return_sequences and not self.batch_first:
            gy = np.swapaxes(np.asarray(gy), 0, 1)
        gh, gc = _cfc.state_pair(grad_state, self.use_mixed, False) if grad_state is not None else (None, None)
        g = tape.backward(gy, gh, gc)
        out: Dict[str, np.ndarray] = {}
        flat = g["params"]
        assert flat is not None
        for e, (name, _) in zip(self._model.table, self._views.items()):
            if e.trainable:
                out[name] = flat[e.offset:e.offset + e.size].reshape(e.shape)
        gx = g["x"]
        assert gx is not None
        out["input"] = gx if self.batch_first else np.ascontiguousarray(gx.transpose(1, 0, 2))
        out["h0"] = g["h0"]  # type: ignore[assignment]
        if g["c0"] is not None:
            out["c0"] = g["c0"]
        if g["elapsed"] is not None:
            out["timespans"] = g["elapsed"] if self.batch_first else g["elapsed"].T
        return out

    def __repr__(self) -> str:
        kind = (f"wiring={type(self.wiring).__name__}({self.state_size})" if self.wired_mode
                else f"units={self.state_size}")
        return (f"CfC(input_size={self.input_size}, {kind}, mode={self._model.mode!r}, "
                f"mixed_memory={self.use_mixed}, proj_size={self.proj_size}, dtype={self.dtype})")


class _StepCell(_Params):
    """A single-step cell over a one-step Go model."""

    _prefix = "rnn_cell."

    def forward(self, input: Any, hx: Any, ts: Any = 1.0) -> Tuple[np.ndarray, np.ndarray]:
        """One step: input (batch, input_size), hx (batch, state_size), ts
        the elapsed time (a scalar, (batch,) or (batch, 1)). Returns
        (output, new state)."""
        x = np.asarray(input)
        if x.ndim != 2:
            raise ValueError(f"input must have shape (batch, {self._model.input_size}), got {x.shape}")
        e = ts
        if e is not None and np.ndim(e) > 0:
            e = np.reshape(np.asarray(e), (-1, 1)) if np.ndim(e) == 1 else e
        y, h, _, _ = self._model.forward(self.flat_params, x[:, None, :], hx, None, e, all_steps=False,
                                         training=self.training)
        return y, h

    __call__ = forward


class CfCCell(_StepCell):
    """ncps.torch.CfCCell on NumPy arrays: one step of a plain CfC.

    Args:
        input_size, hidden_size: input features and hidden units.
        mode, backbone_activation, backbone_units, backbone_layers,
        backbone_dropout: as ncps (defaults "default", "lecun_tanh", 128,
            1, 0.0).
        sparsity_mask: an (input_size + hidden_size, hidden_size) mask of
            the ff1/ff2 weights (absolute values taken), as the reference's
            wired cells use; only with backbone_layers=0.
        dtype, seed: as :class:`CfC`.

    Example:
        >>> cell = CfCCell(3, 8, seed=0)
        >>> h, h2 = cell(np.zeros((2, 3), np.float32), np.zeros((2, 8), np.float32))
        >>> h.shape
        (2, 8)
    """

    def __init__(self, input_size: int, hidden_size: int, mode: str = "default",
                 backbone_activation: str = "lecun_tanh", backbone_units: int = 128, backbone_layers: int = 1,
                 backbone_dropout: float = 0.0, sparsity_mask: Any = None, *, dtype: Any = np.float32,
                 seed: Optional[int] = None) -> None:
        self.input_size, self.hidden_size, self.mode = input_size, hidden_size, mode
        if sparsity_mask is None:
            model = CfCModel(input_size, units=hidden_size, mode=mode, activation=backbone_activation,
                             backbone_units=backbone_units, backbone_layers=backbone_layers,
                             backbone_dropout=backbone_dropout, dtype=dtype)
            self._setup(model, seed)
            return
        mask = _cfc.sparsity_mask(sparsity_mask, input_size, hidden_size, backbone_layers)
        if backbone_activation != "lecun_tanh":
            raise ValueError("sparsity_mask cells use lecun_tanh (no backbone), got "
                             f"backbone_activation={backbone_activation!r}")
        # A one-layer wiring gives the model its mask entry; the mask
        # itself is the caller's, recurrent part included.
        w = Wiring(mask.shape[1])
        w.build(mask.shape[0] - mask.shape[1])
        model = CfCModel(input_size, wiring=w, mode=mode, dtype=dtype)
        self._setup(model, seed)
        self._views["layer_0.sparsity_mask"][...] = mask.T
        self._views = {k.replace("layer_0.", "", 1): v for k, v in self._views.items()}

    @property
    def state_size(self) -> int:
        return self._model.state_size


class WiredCfCCell(_StepCell):
    """ncps.torch.WiredCfCCell on NumPy arrays: one step of a wired CfC
    (one CfC layer per wiring layer; state in layer order).

    Example:
        >>> from kerasncp_go.wirings import AutoNCP
        >>> cell = WiredCfCCell(4, AutoNCP(16, 2), seed=0)
        >>> y, h = cell(np.zeros((1, 4), np.float32), np.zeros((1, 16), np.float32))
        >>> y.shape, h.shape
        ((1, 2), (1, 16))
    """

    def __init__(self, input_size: Optional[int], wiring: Wiring, mode: str = "default", *,
                 dtype: Any = np.float32, seed: Optional[int] = None) -> None:
        self.wiring = _cfc.cfc_wiring(wiring, input_size)
        model = CfCModel(self.wiring.input_dim, wiring=self.wiring, mode=mode, dtype=dtype)
        self._setup(model, seed)

    @property
    def state_size(self) -> int:
        return self._model.state_size

    @property
    def layer_sizes(self):
        return list(self._model.layer_sizes)

    @property
    def num_layers(self) -> int:
        return len(self._model.layer_sizes)

    @property
    def sensory_size(self) -> int:
        return int(self.wiring.input_dim)

    @property
    def motor_size(self) -> int:
        return int(self.wiring.output_dim)

    output_size = motor_size

    @property
    def synapse_count(self) -> int:
        return int(np.sum(np.abs(self.wiring.adjacency_matrix)))

    @property
    def sensory_synapse_count(self) -> int:
        """Sensory synapses (ncps's counts the internal ones here)."""
        return int(np.sum(np.abs(self.wiring.sensory_adjacency_matrix)))
