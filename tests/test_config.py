"""params.yaml -> dataclasses: the real file loads; every kind of bad input is a one-line error naming its key."""

import dataclasses

import pytest
import yaml

from posenc import config
from posenc.errors import ConfigError

from conftest import ROOT, tiny_params


def test_repo_params_load_and_are_frozen():
    cfg = config.load(ROOT / "params.yaml")
    assert set(cfg.pes) >= {"sinusoidal", "learned", "rope", "alibi"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.train.lr = 1.0


def edit(path_value):
    data = tiny_params()
    *parents, last = path_value[0].split(".")
    node = data
    for p in parents:
        node = node[p]
    if path_value[1] is KeyError:
        del node[last]
    else:
        node[last] = path_value[1]
    return data


@pytest.mark.parametrize("key,value,message", [
    ("train.lrr", 0.1, "train.lrr: unknown key"),
    ("train.lr", KeyError, "train.lr: missing key"),
    ("train.lr", "fast", "train.lr: expected a number"),
    ("train.lr", -1.0, "train.lr: must be > 0"),
    ("model.n_layers", 2.5, "model.n_layers: expected an integer"),
    ("model.n_layers", True, "model.n_layers: expected an integer"),
    ("pes", ["rope", "xpos"], "pes[1]: unknown PE 'xpos'"),
    ("pes", [], "pes: must list at least one"),
    ("synthetic.tasks", ["copy", "reverse"], "synthetic.tasks[1]: unknown task 'reverse'"),
    ("synthetic.eval_lengths", [], "synthetic.eval_lengths: must not be empty"),
    ("synthetic.eval_lengths", [16, -4], "synthetic.eval_lengths[1]: length -4 is impossible"),
    ("synthetic.eval_lengths", [0], "synthetic.eval_lengths[0]: length 0 is impossible"),
    ("synthetic.curve_lengths", [64], "synthetic.curve_lengths[0]: length 64 exceeds model.max_positions"),
    ("synthetic.far_lengths", [64], "synthetic.far_lengths[0]: length 64 exceeds model.max_positions"),
    ("synthetic.far_lengths", [32], "synthetic.far_lengths: [32] already in eval_lengths or curve_lengths"),
    ("synthetic.far_lengths", [48, 40], "synthetic.far_lengths: must be strictly increasing"),
    ("synthetic.train_max_len", 0, "synthetic.train_max_len: must be >= 4"),
    ("model.max_positions", 8, "model.max_positions: (8) is below the training length"),
    ("model.d_model", 15, "model.d_model: must be a positive multiple"),
    ("model.rope_base", 10000.0, "model.rope_base: unknown key"),  # moved to pe.rope.base
    ("pe.xpos", {}, "pe.xpos: unknown PE"),
    ("pe.rope", KeyError, "pe.rope: missing section"),
    ("pe", {"rope": [1]}, "pe: expected a mapping of name -> mapping"),
    ("model.norm", "batchnorm", "model.norm: unknown norm"),
    ("synthetic.headline_task", "duplicate2", "synthetic.headline_task"),
    ("train", [1, 2], "train: expected a mapping"),
    ("imdb.eval_lengths", [], "imdb.eval_lengths: must not be empty"),
    ("imdb.eval_lengths", [32, 16], "imdb.eval_lengths: must be strictly increasing"),
    ("imdb.eval_lengths", [16, 64], "imdb.eval_lengths[1]: length 64 is impossible"),
    ("imdb.train_max_len", 0, "imdb.train_max_len: must be between 2"),
    ("imdb.val_frac", 0.5, "imdb.val_frac: must be in (0, 0.5)"),
    ("imdb.bucket_edges", [32, 16], "imdb.bucket_edges: must be a non-empty, strictly increasing"),
    ("imdb.archive", "", "imdb.archive: must name an archive"),
    ("imdb.epochs", 0, "imdb.epochs: must be > 0"),
    ("runtime.dtype", "fp16", "runtime.dtype: unknown precision 'fp16'; choose from auto, float32, bfloat16"),
    ("imdb.truncation", "middle", "imdb.truncation: unknown truncation 'middle'; choose from head, tail"),
])
def test_bad_values_name_their_key(key, value, message):
    with pytest.raises(ConfigError) as err:
        config.from_dict(edit((key, value)))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_numbers_written_as_text_are_accepted():
    cfg = config.from_dict(edit(("train.lr", "1e-3")))
    assert cfg.train.lr == pytest.approx(1e-3)


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml: cannot read"):
        config.load(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml: malformed YAML at line"):
        config.load(bad)
    bad.write_text("seed: 0\npes: [rope, alibi\nseeds: [0]\n")  # detected on line 3, caused on line 2
    with pytest.raises(ConfigError, match=r"at line 3: expected ',' or '\]', but got ':' \(while parsing a flow "
                                          r"sequence started at line 2\)$"):
        config.load(bad)
    bad.write_text("seed: 0\n\tpes: 1\n")
    with pytest.raises(ConfigError, match=r"at line 2: found character '\\t' that cannot start any token$"):
        config.load(bad)
    top = tmp_path / "list.yaml"
    top.write_text(yaml.safe_dump([1, 2]))
    with pytest.raises(ConfigError, match="params: expected a mapping"):
        config.load(top)
