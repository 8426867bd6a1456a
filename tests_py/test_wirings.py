"""Wiring parity with the real keras-ncp 2.1.0 and ncps 1.0.1, configuration
round trips, graph helpers and errors."""

import copy
import pickle
import random

import kerasncp.wirings as K
import ncps.wirings as N
import numpy as np
import pytest

import kerasncp_go as kg
from kerasncp_go import wirings as W


def _configs():
    r = random.Random(7)
    out = [
        ("FullyConnected", dict(units=1), 1),
        ("FullyConnected", dict(units=7, output_dim=2, erev_init_seed=0, self_connections=False), 3),
        ("FullyConnected", dict(units=40, erev_init_seed=2**40), 30),
        ("Random", dict(units=10, sparsity_level=0.5), 4),
        ("Random", dict(units=120, sparsity_level=0.99, random_seed=1), 100),
        ("Random", dict(units=150, output_dim=3, sparsity_level=0.3, random_seed=2**32 - 1), 80),
        ("NCP", dict(inter_neurons=3, command_neurons=2, motor_neurons=1, sensory_fanout=2, inter_fanout=2,
                     recurrent_command_synapses=2, motor_fanin=1), 2),
        ("NCP", dict(inter_neurons=10, command_neurons=10, motor_neurons=8, sensory_fanout=6, inter_fanout=6,
                     recurrent_command_synapses=4, motor_fanin=6, seed=0), 20),
        ("AutoNCP", dict(units=28, output_size=4), 5),
        ("AutoNCP", dict(units=300, output_size=10, sparsity_level=0.9, seed=42), 64),
    ]
    for _ in range(40):
        kind = r.choice(["FullyConnected", "Random", "NCP", "AutoNCP"])
        if kind == "FullyConnected":
            u = r.randint(1, 60)
            args = dict(units=u, output_dim=r.choice([None, r.randint(1, u)]), erev_init_seed=r.randint(0, 2**32 - 1),
                        self_connections=r.random() < 0.5)
        elif kind == "Random":
            u = r.randint(1, 60)
            args = dict(units=u, output_dim=r.choice([None, r.randint(1, u)]), sparsity_level=r.choice([0, 0.1, 0.5, 0.9]),
                        random_seed=r.randint(0, 2**32 - 1))
        elif kind == "NCP":
            i, c, m = r.randint(1, 20), r.randint(1, 20), r.randint(1, 10)
            args = dict(inter_neurons=i, command_neurons=c, motor_neurons=m, sensory_fanout=r.randint(0, i),
                        inter_fanout=r.randint(0, c), recurrent_command_synapses=r.randint(0, 30),
                        motor_fanin=r.randint(0, c), seed=r.randint(0, 2**32 - 1))
        else:
            u = r.randint(6, 80)
            args = dict(units=u, output_size=r.randint(1, u - 3), sparsity_level=r.choice([0.1, 0.5, 0.8, 1.0]),
                        seed=r.randint(0, 2**32 - 1))
        out.append((kind, args, r.randint(1, 40)))
    return out


@pytest.mark.parametrize("kind,args,input_dim", _configs())
def test_matrices_and_counts_match_reference(kind, args, input_dim):
    ref = getattr(N, kind)(**args)
    ours = getattr(W, kind)(**args)
    ref.build(input_dim)
    ours.build(input_dim)
    np.testing.assert_array_equal(ours.adjacency_matrix, ref.adjacency_matrix)
    np.testing.assert_array_equal(ours.sensory_adjacency_matrix, ref.sensory_adjacency_matrix)
    assert ours.adjacency_matrix.dtype == np.int32
    assert ours.synapse_count == ref.synapse_count
    assert ours.sensory_synapse_count == ref.sensory_synapse_count
    assert (ours.units, ours.input_dim, ours.output_dim) == (ref.units, ref.input_dim, ref.output_dim)
    assert ours.num_layers == ref.num_layers
    for layer in range(ref.num_layers):
        assert ours.get_neurons_of_layer(layer) == list(ref.get_neurons_of_layer(layer))
    for i in range(ref.units):
        assert ours.get_type_of_neuron(i) == ref.get_type_of_neuron(i)
    np.testing.assert_array_equal(ours.erev_initializer(), ref.erev_initializer())
    np.testing.assert_array_equal(ours.sensory_erev_initializer(), ref.sensory_erev_initializer())
    if kind != "AutoNCP":  # keras-ncp 2.1.0 has the same classes
        k = getattr(K, kind)(**args)
        k.build(input_dim)
        np.testing.assert_array_equal(ours.adjacency_matrix, k.adjacency_matrix)


def test_custom_wiring_like_reference():
    ref, ours = K.Wiring(4), W.Wiring(4)
    for w in (ref, ours):
        w.add_synapse(0, 1, 1)
        w.add_synapse(3, 2, -1)
        w.set_output_dim(2)
        w.build(3)
        w.add_sensory_synapse(2, 3, -1)
    np.testing.assert_array_equal(ours.adjacency_matrix, ref.adjacency_matrix)
    np.testing.assert_array_equal(ours.sensory_adjacency_matrix, ref.sensory_adjacency_matrix)
    assert [ours.get_type_of_neuron(i) for i in range(4)] == [ref.get_type_of_neuron(i) for i in range(4)]


def test_user_subclass_like_reference():
    class Chain(W.Wiring):
        def __init__(self, n):
            super().__init__(n)
            self.set_output_dim(1)
            for i in range(n - 1):
                self.add_synapse(i + 1, i, 1)

        def build(self, input_dim):
            super().build(input_dim)
            self.add_sensory_synapse(0, self.units - 1, 1)

    w = Chain(5)
    w.build(2)
    assert w.synapse_count == 4 and w.sensory_synapse_count == 1


def test_matrix_config_roundtrip_both_forms():
    ref = K.NCP(10, 10, 8, 6, 6, 4, 6)
    ref.build(20)
    # keras-ncp 2.1.0's matrix form loads into our base Wiring.
    ours = W.Wiring.from_config(ref.get_config())
    np.testing.assert_array_equal(ours.adjacency_matrix, ref.adjacency_matrix)
    np.testing.assert_array_equal(ours.sensory_adjacency_matrix, ref.sensory_adjacency_matrix)
    assert ours.output_dim == 8 and ours.input_dim == 20
    # ncps's constructor form loads into the subclass.
    fc = N.FullyConnected(6, 2, erev_init_seed=5)
    again = W.FullyConnected.from_config(fc.get_config())
    again.build(3)
    fc.build(3)
    np.testing.assert_array_equal(again.adjacency_matrix, fc.adjacency_matrix)
    # Our own configurations round-trip, NCP's seed included.
    for w in (W.NCP(5, 4, 2, 3, 2, 3, 2, seed=99), W.AutoNCP(20, 3, 0.6, seed=7), W.Random(9, 3, 0.4, 5),
              W.FullyConnected(5, self_connections=False)):
        clone = type(w).from_config(w.get_config())
        w.build(4)
        clone.build(4)
        np.testing.assert_array_equal(clone.adjacency_matrix, w.adjacency_matrix)
        np.testing.assert_array_equal(clone.sensory_adjacency_matrix, w.sensory_adjacency_matrix)
    base = W.Wiring(3)
    base.add_synapse(1, 2, -1)
    base.build(2)
    again = W.Wiring.from_config(base.get_config())
    np.testing.assert_array_equal(again.adjacency_matrix, base.adjacency_matrix)


def test_build_is_idempotent_and_conflicts_raise():
    w = W.NCP(10, 10, 8, 6, 6, 4, 6)
    w.build(20)
    a = w.adjacency_matrix.copy()
    w.build(20)  # the reference would add a second round of synapses here
    np.testing.assert_array_equal(w.adjacency_matrix, a)
    with pytest.raises(ValueError, match="input_dim=20"):
        w.build(21)


def test_copy_and_pickle_keep_the_stream():
    w = W.Random(12, 3, 0.5, 11)
    c = copy.deepcopy(w)
    p = pickle.loads(pickle.dumps(w))
    for x in (w, c, p):
        x.build(6)
    np.testing.assert_array_equal(c.sensory_adjacency_matrix, w.sensory_adjacency_matrix)
    np.testing.assert_array_equal(p.sensory_adjacency_matrix, w.sensory_adjacency_matrix)
    w.add_synapse(0, 0, -1)
    q = pickle.loads(pickle.dumps(w))
    np.testing.assert_array_equal(q.adjacency_matrix, w.adjacency_matrix)


def test_matrices_are_read_only():
    w = W.FullyConnected(3)
    with pytest.raises(ValueError, match="read-only"):
        w.adjacency_matrix[0, 0] = 0


def test_graph_matches_reference():
    ref = N.NCP(4, 3, 2, 2, 2, 2, 1)
    ours = W.NCP(4, 3, 2, 2, 2, 2, 1)
    ref.build(3)
    ours.build(3)
    gr, go = ref.get_graph(), ours.get_graph()
    assert sorted(gr.nodes(data=True)) == sorted(go.nodes(data=True))
    assert sorted(gr.edges(data=True)) == sorted(go.edges(data=True))


def test_draw_graph_returns_legend():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w = W.NCP(4, 3, 2, 2, 2, 2, 1)
    w.build(3)
    legend = w.draw_graph(layout="spiral", draw_labels=True)
    assert {p.get_label() for p in legend} >= {"Inter neurons", "Motor neurons", "Sensory neurons", "Command neurons"}
    with pytest.raises(ValueError, match="layout must be one of"):
        w.draw_graph(layout="fancy")
    plt.close("all")
    with pytest.raises(ValueError, match="not built"):
        W.FullyConnected(3).get_graph()


@pytest.mark.parametrize("make,match", [
    (lambda: W.NCP(3, 2, 1, 4, 1, 1, 1), r"sensory_fanout must be in \[0, inter_neurons=3\], got 4"),
    (lambda: W.NCP(3, 2, 1, 1, 3, 1, 1), r"inter_fanout must be in \[0, command_neurons=2\], got 3"),
    (lambda: W.NCP(3, 2, 1, 1, 1, 1, 3), r"motor_fanin must be in \[0, command_neurons=2\], got 3"),
    (lambda: W.NCP(0, 2, 1, 0, 1, 1, 1), r"inter_neurons must be in \[1, 65536\], got 0"),
    (lambda: W.NCP(3, 2, 1, 1, 1, 1, 1, seed=2**32), r"seed must be in \[0, 2\*\*32-1\]"),
    (lambda: W.NCP(3, 2, 1, 1, 1, 1, 1, seed=-1), r"seed must be in \[0, 2\*\*32-1\], got -1"),
    (lambda: W.Random(5, sparsity_level=1.0), r"sparsity_level must be in \[0, 1\), got 1"),
    (lambda: W.Random(5, random_seed=-3), r"random_seed must be in \[0, 2\*\*64-1\], got -3"),
    (lambda: W.Random(5, sparsity_level=float("nan")), r"sparsity_level must be a finite number, got nan"),
    (lambda: W.AutoNCP(8, 2, sparsity_level=float("inf")), r"sparsity_level must be a finite number, got inf"),
    (lambda: W.AutoNCP(8, 6), r"output_size must be in \[0, units-3=5\], got 6"),
    (lambda: W.AutoNCP(8, 2, sparsity_level=0.05), r"sparsity_level must be in \[0.1, 1.0\]"),
    (lambda: W.FullyConnected(0), r"units must be in \[1, 65536\], got 0"),
    (lambda: W.FullyConnected(3, output_dim=4), r"output_dim must be in \[1, units=3\]"),
])
def test_bad_arguments_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_integers_beyond_int64_raise_instead_of_wrapping():
    w = W.Wiring(3)
    with pytest.raises(ValueError, match=rf"src must be in \[-9223372036854775808, 9223372036854775807\], got {2**64}"):
        w.add_synapse(2**64, 1, 1)
    assert not np.asarray(w.adjacency_matrix).any()
    f = W.FullyConnected(3)
    with pytest.raises(ValueError, match="input_dim must be in"):
        f.build(2**64 + 2)
    with pytest.raises(ValueError, match="output_dim must be in"):
        f.set_output_dim(2**64 + 1)
    with pytest.raises(ValueError, match="neuron_id must be in"):
        f.get_type_of_neuron(2**64)


def test_reference_conveniences():
    # Float polarities equal to -1 or 1, as the reference's membership test.
    w = W.Wiring(3)
    w.add_synapse(0, 1, 1.0)
    w.add_synapse(1, 2, np.float32(-1))
    assert np.asarray(w.adjacency_matrix).tolist() == [[0, 1, 0], [0, 0, -1], [0, 0, 0]]
    with pytest.raises(ValueError, match="polarity must be -1 or 1, got 0.5"):
        w.add_synapse(0, 1, 0.5)
    # A None seed draws one, which get_config keeps, so the wiring rebuilds.
    for make in (lambda: W.FullyConnected(5, erev_init_seed=None), lambda: W.Random(5, random_seed=None),
                 lambda: W.NCP(3, 2, 1, 1, 1, 1, 1, seed=None), lambda: W.AutoNCP(8, 2, seed=None)):
        a = make()
        a.build(2)
        b = type(a).from_config(a.get_config())
        b.build(2)
        np.testing.assert_array_equal(a.adjacency_matrix, b.adjacency_matrix)
        np.testing.assert_array_equal(a.sensory_adjacency_matrix, b.sensory_adjacency_matrix)
    # get_config reports the resolved output_dim, as ncps.
    assert W.FullyConnected(4).get_config()["output_dim"] == 4
    assert W.Random(4, 2).get_config()["output_dim"] == 2
    # A constructor-form config given to the base class is an error, not an
    # empty wiring.
    with pytest.raises(ValueError, match="call that class's from_config"):
        W.Wiring.from_config(W.AutoNCP(10, 2).get_config())


def test_bad_synapses_and_types():
    w = W.Wiring(3)
    with pytest.raises(ValueError, match=r"dest must be in \[0, units=3\), got 3"):
        w.add_synapse(0, 3, 1)
    with pytest.raises(ValueError, match="polarity must be -1 or 1, got 0"):
        w.add_synapse(0, 1, 0)
    with pytest.raises(ValueError, match="before the input dimension is set"):
        w.add_sensory_synapse(0, 0, 1)
    with pytest.raises(TypeError, match="units must be an int"):
        W.FullyConnected(2.5)
    with pytest.raises(ValueError, match="layer_id must be 0"):
        w.get_neurons_of_layer(1)


def test_no_handle_leak():
    import gc

    gc.collect()
    before = kg._lib.live_handles()
    for _ in range(50):
        w = W.AutoNCP(20, 3)
        w.build(4)
        copy.deepcopy(w)
    del w
    gc.collect()
    assert kg._lib.live_handles() == before


# -- one serialisation (issue 11): get_config, pickle and the C ABI share Go's form


def test_get_config_equals_the_references_for_the_same_arguments():
    # ncps 1.0.1 returns exactly these dicts (NCP has no seed there: ours adds it).
    for ours, ref in ((W.FullyConnected(5), N.FullyConnected(5)), (W.Random(5, 2, 0.3, 4), N.Random(5, 2, 0.3, 4)),
                      (W.AutoNCP(12, 3, seed=9), N.AutoNCP(12, 3, seed=9))):
        assert ours.get_config() == ref.get_config()
    ncp = W.NCP(3, 2, 1, 1, 1, 1, 1, seed=5).get_config()
    ref = N.NCP(3, 2, 1, 1, 1, 1, 1, seed=5).get_config()
    assert list(ncp) == list(ref) and ncp["seed"] == 5
    assert all(ncp[k] == ref[k] for k in ref if not isinstance(ref[k], list) and k != "seed")


def test_get_config_comes_from_the_go_configuration():
    w = W.Random(6, None, 0.25, 2**63 + 5)
    go = w._go_config()
    assert go["kind"] == "random" and go["random_seed"] == 2**63 + 5 and go["sparsity_level"] == 0.25
    assert w.get_config() == {"units": 6, "output_dim": 6, "sparsity_level": 0.25, "random_seed": 2**63 + 5}
    # The Go form goes back into kncp_wiring_new as it is, built when input_dim is set.
    w.build(3)
    from kerasncp_go.wirings import _config
    clone = W.Wiring.__new__(W.Random)
    clone._adopt(_config.new_handle(w._go_config()))
    np.testing.assert_array_equal(clone.sensory_adjacency_matrix, w.sensory_adjacency_matrix)


def test_go_form_is_strict():
    from kerasncp_go.wirings import _config
    for cfg, msg in (({"kind": "random", "units": "3"}, 'units must be an integer, got "3"'),
                     ({"kind": "random", "units": 2.5}, "units must be an integer, got 2.5"),
                     ({"kind": "random", "units": True}, "units must be an integer, got true"),
                     ({"kind": "fully_connected", "units": 3, "colour": 1}, 'unexpected argument "colour"'),
                     ({"kind": "autoncp", "units": 12, "output_size": 3, "seed": -1}, "seed must be an integer")):
        with pytest.raises(ValueError, match=msg):
            _config.new_handle(cfg)


def test_pickle_after_set_output_dim_and_module_path():
    w = W.NCP(5, 4, 3, 3, 2, 3, 2, seed=4)
    w.build(3)
    w.set_output_dim(2)
    data = pickle.dumps(w)
    assert b"kerasncp_go.wirings" in data and b"_kinds" not in data and b"_base" not in data
    back = pickle.loads(data)
    assert type(back) is W.NCP and back.get_config() == w.get_config() and back.input_dim == 3
    np.testing.assert_array_equal(back.adjacency_matrix, w.adjacency_matrix)
    np.testing.assert_array_equal(back.sensory_adjacency_matrix, w.sensory_adjacency_matrix)


def test_wiring_info_is_a_struct():
    from kerasncp_go import _lib
    w = W.AutoNCP(12, 3)
    info = w._info()
    assert isinstance(info, _lib.WiringInfo)
    assert (info.units, info.output_dim, info.num_layers, info.kind, info.built) == (12, 3, 3, _lib.WIRING_AUTONCP, 0)
    w.build(2)
    assert w._info().built == 1 and w.is_built()
    assert _lib.ABI_VERSION == 2 == _lib.lib.kncp_abi_version()


def test_tape_bytes_comes_from_go():
    from kerasncp_go import _lib
    f32 = _lib.tape_bytes(_lib.FLOAT32, 12, 6, 16, 100)
    assert f32 > 0 and _lib.tape_bytes(_lib.FLOAT64, 12, 6, 16, 100) == 2 * f32
    with pytest.raises(ValueError, match="units must be in"):
        _lib.tape_bytes(_lib.FLOAT32, 0, 6, 1, 1)
    with pytest.raises(TypeError, match="dtype must be float32"):
        _lib.tape_bytes(7, 4, 6, 1, 1)
