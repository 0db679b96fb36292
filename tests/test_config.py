"""Tests for asr/config.py: YAML onto nested dataclasses, with errors naming the key."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from asr.config import ConfigError, from_dict, load_yaml, save_yaml, to_dict
from asr.data.specaug import SpecAugConfig
from asr.nn.train import TrainConfig


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


def test_empty_yaml_gives_defaults(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert load_yaml(TrainConfig, path) == TrainConfig()
