"""Tests for asr/config.py: YAML onto nested dataclasses, with errors naming the key."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from asr.config import ConfigError, from_dict, load_yaml, save_yaml, to_dict
from asr.data.specaug import SpecAugConfig
from asr.nn.schedule import TrainConfig


@dataclass
class Inner:
    width: int = 3
    rate: float = 0.5


@dataclass
class Outer:
    name: str = "x"
    flag: bool = False
    inner: Inner = field(default_factory=Inner)
    maybe: int | None = None
    sizes: list[int] = field(default_factory=list)
    pair: tuple[float, ...] = ()
    shares: dict[str, float] = field(default_factory=dict)


def test_nested_dataclasses():
    cfg = from_dict(Outer, {"name": "y", "inner": {"width": 7}, "sizes": [1, 2], "pair": [1, 2.5]})
    assert isinstance(cfg.inner, Inner)
    assert cfg == Outer(name="y", inner=Inner(width=7, rate=0.5), sizes=[1, 2], pair=(1.0, 2.5))
    train = from_dict(TrainConfig, {"epochs": 3, "specaug": {"enabled": False, "num_time_masks": 1}})
    assert isinstance(train.specaug, SpecAugConfig)
    assert train.specaug == SpecAugConfig(enabled=False, num_time_masks=1) and train.epochs == 3


def test_unknown_key_error_lists_key_and_valid_keys():
    with pytest.raises(ConfigError) as e:
        from_dict(TrainConfig, {"epochz": 3})
    msg = str(e.value)
    assert "epochz" in msg and "epochs" in msg
    with pytest.raises(ConfigError) as e:
        from_dict(TrainConfig, {"specaug": {"bogus_width": 1}}, where="conf/x.yaml")
    assert "conf/x.yaml.specaug" in str(e.value) and "bogus_width" in str(e.value)


@pytest.mark.parametrize(
    "data, key",
    [
        ({"epochs": "ten"}, "epochs"),
        ({"epochs": 2.0}, "epochs"),
        ({"epochs": True}, "epochs"),  # bool is not an int here
        ({"specaug": {"enabled": 1}}, "specaug.enabled"),
        ({"specaug": "off"}, "specaug"),
    ],
)
def test_wrong_type_names_key(data, key):
    with pytest.raises(ConfigError) as e:
        from_dict(TrainConfig, data, where="cfg")
    assert f"cfg.{key}" in str(e.value)


def test_wrong_types_in_containers_and_optionals():
    with pytest.raises(ConfigError, match=r"sizes\[1\]"):
        from_dict(Outer, {"sizes": [1, "two"]})
    with pytest.raises(ConfigError, match="maybe"):
        from_dict(Outer, {"maybe": "seven"})
    with pytest.raises(ConfigError, match="sizes"):
        from_dict(Outer, {"sizes": 3})
    assert from_dict(Outer, {"maybe": None}).maybe is None
    assert from_dict(Outer, {"maybe": 4}).maybe == 4
    assert from_dict(Outer, {"shares": {"kokoro:*": 1}}).shares == {"kokoro:*": 1.0}
    with pytest.raises(ConfigError, match=r"shares\['a'\]"):
        from_dict(Outer, {"shares": {"a": "lots"}})
    with pytest.raises(ConfigError, match="shares"):
        from_dict(Outer, {"shares": [1]})


def test_float_from_int_is_ok():
    cfg = from_dict(TrainConfig, {"lr": 1, "specaug": {"max_time_fraction": 0}})
    assert cfg.lr == 1.0 and type(cfg.lr) is float
    assert type(cfg.specaug.max_time_fraction) is float


def test_float_field_rejects_a_string():
    with pytest.raises(ConfigError, match="lr"):
        from_dict(TrainConfig, {"lr": "fast"})


def test_yaml_exponent_float_is_never_left_a_string(tmp_path):
    # PyYAML (YAML 1.1) reads `1e-3` as the string '1e-3'; it must not reach the optimizer as a str.
    path = tmp_path / "train.yaml"
    path.write_text("lr: 1e-3\n")
    try:
        cfg = load_yaml(TrainConfig, path)
    except ConfigError as e:
        assert "lr" in str(e)
    else:
        assert type(cfg.lr) is float and cfg.lr == pytest.approx(1e-3)


def test_yaml_round_trip_and_error_names_file(tmp_path):
    cfg = TrainConfig(epochs=4, lr=5e-4, specaug=SpecAugConfig(max_freq_width=9))
    path = tmp_path / "train.yaml"
    save_yaml(cfg, path)
    assert load_yaml(TrainConfig, path) == cfg
    assert to_dict(cfg)["specaug"]["max_freq_width"] == 9
    path.write_text("epochs: 2\nwarmup: 10\n")
    with pytest.raises(ConfigError) as e:
        load_yaml(TrainConfig, path)
    assert str(path) in str(e.value) and "warmup" in str(e.value)


def test_empty_or_non_mapping_yaml_is_an_error_naming_the_file(tmp_path):
    # an empty config once trained a recipe's 10-epoch defaults from random weights, silently
    path = tmp_path / "empty.yaml"
    path.write_text("# only a comment\n")
    with pytest.raises(ConfigError, match=f"{path}: the config is empty"):
        load_yaml(TrainConfig, path)
    path.write_text("- epochs\n- 3\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_yaml(TrainConfig, path)
    path.write_text("epochs: [3\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(TrainConfig, path)


def test_base_merges_mappings_and_replaces_scalars_and_lists(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "base.yaml").write_text("name: base\nsizes: [1, 2]\ninner: {width: 5, rate: 0.25}\nshares: {a: 1}\n")
    (tmp_path / "conf" / "mid.yaml").write_text("base: ../base.yaml\ninner: {width: 7}\nsizes: [9]\nshares: {b: 2}\n")
    (tmp_path / "conf" / "top.yaml").write_text("base: mid.yaml\nname: top\nsizes+: [10, 11]\nflag: true\n")
    mid = load_yaml(Outer, tmp_path / "conf" / "mid.yaml")
    assert mid == Outer(name="base", inner=Inner(width=7, rate=0.25), sizes=[9], shares={"a": 1.0, "b": 2.0})
    top = load_yaml(Outer, tmp_path / "conf" / "top.yaml")
    assert top == Outer(name="top", flag=True, inner=Inner(width=7, rate=0.25), sizes=[9, 10, 11],
                        shares={"a": 1.0, "b": 2.0})
    assert (tmp_path / "conf" / "mid.yaml").read_text().startswith("base: ../base.yaml")  # files untouched
    # a value of null replaces the base's too
    (tmp_path / "conf" / "none.yaml").write_text("base: ../base.yaml\nmaybe: 3\n")
    (tmp_path / "conf" / "none2.yaml").write_text("base: none.yaml\nmaybe: null\n")
    assert load_yaml(Outer, tmp_path / "conf" / "none2.yaml").maybe is None


def test_base_errors_name_the_file(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("base: b.yaml\nname: a\n")
    b.write_text("base: a.yaml\nname: b\n")
    with pytest.raises(ConfigError, match="makes a cycle"):
        load_yaml(Outer, a)
    b.write_text("base: missing.yaml\n")
    with pytest.raises(ConfigError, match=f"{b}: base: .*missing.yaml does not exist"):
        load_yaml(Outer, a)
    b.write_text("name: b\ninner: {widht: 3}\n")  # a typo in the base is still an unknown key
    with pytest.raises(ConfigError, match="widht"):
        load_yaml(Outer, a)
    b.write_text("name: b\n")
    a.write_text("base: b.yaml\nsizes+: [1]\n")  # nothing to extend
    with pytest.raises(ConfigError, match=r"sizes\+ extends a list"):
        load_yaml(Outer, a)
    a.write_text("base: [b.yaml]\n")
    with pytest.raises(ConfigError, match="expected the path of a config file"):
        load_yaml(Outer, a)


def test_module_prints_a_merged_key(tmp_path, capsys):
    from asr.config import main

    (tmp_path / "a.yaml").write_text("tag: a\ntrain: {epochs: 4, lr: 0.1}\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\ntag: b\ntrain: {epochs: 2}\n")
    main(["tag", str(tmp_path / "b.yaml")])
    main(["train.lr", str(tmp_path / "b.yaml")])
    assert capsys.readouterr().out == "b\n0.1\n"
    with pytest.raises(SystemExit, match="no key train.nope"):
        main(["train.nope", str(tmp_path / "b.yaml")])
